import psychometrics


def test_public_api_is_listed():
    assert "load_responses" in psychometrics.__all__
    assert psychometrics.__version__ == "0.1.0"


def test_absent_reference_data_fails_when_required(monkeypatch):
    import importlib.util
    from pathlib import Path

    import pytest

    # the root conftest by path: several test folders have a conftest module
    spec = importlib.util.spec_from_file_location("root_conftest", Path(__file__).with_name("conftest.py"))
    root = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(root)
    REQUIRE_REFERENCE_DATA, reference_data_absent = root.REQUIRE_REFERENCE_DATA, root.reference_data_absent

    monkeypatch.setenv(REQUIRE_REFERENCE_DATA, "1")
    with pytest.raises(pytest.fail.Exception, match="absent"):
        reference_data_absent("folder /nowhere")
    monkeypatch.setenv(REQUIRE_REFERENCE_DATA, "0")
    with pytest.raises(pytest.skip.Exception, match="absent"):
        reference_data_absent("folder /nowhere")
