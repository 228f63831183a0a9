from tests.resilience.conftest import alice_file  # noqa: F401 - Alice's file, for real ids
