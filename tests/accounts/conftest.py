# For tests/accounts/test_forged_cache.py, which walks the access matrix: Alice's file and a
# client per role.
from tests.resilience.conftest import alice_file  # noqa: F401
from tests.resilience.test_access_matrix import clients  # noqa: F401
