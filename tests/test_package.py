import psychometrics


def test_public_api_is_listed():
    assert "load_responses" in psychometrics.__all__
    assert psychometrics.__version__ == "0.1.0"
