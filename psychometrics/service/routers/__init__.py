"""One router per concern; :func:`psychometrics.service.app.create_app` includes them all."""
