# Superset configuration for Tollgate's dashboards (infra/superset/dashboards.sh sets SUPERSET_HOME).
# Headless and local: sqlite metadata in SUPERSET_HOME, no caches, no CSRF (loopback use), no
# Talisman. Put Superset behind your own authentication before exposing it.
import os

_home = os.environ["SUPERSET_HOME"]
SECRET_KEY = os.environ.get("SUPERSET_SECRET_KEY") or open(os.path.join(_home, "secret_key")).read().strip()
SQLALCHEMY_DATABASE_URI = "sqlite:///" + os.path.join(_home, "superset.db")
TALISMAN_ENABLED = False
WTF_CSRF_ENABLED = False
CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
FILTER_STATE_CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache"}
EXPLORE_FORM_DATA_CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache"}
RATELIMIT_STORAGE_URI = "memory://"
SQLLAB_CTAS_NO_LIMIT = True
# Every chart of a dashboard loads at once, not only those scrolled into view: a full-page
# screenshot (and a printed page) shows them all.
FEATURE_FLAGS = {"DASHBOARD_VIRTUALIZATION": False}


def _password(url):
    """A ClickHouse server's password, from the environment at each connection (as every Tollgate
    command reads it): the bundle's URI has none, so Superset's metadata never holds it. The embedded
    store (no host) has none."""
    return os.environ.get("TOLLGATE_CLICKHOUSE_PASSWORD", "") if url.host else url.password


SQLALCHEMY_CUSTOM_PASSWORD_STORE = _password
