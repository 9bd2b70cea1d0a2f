"""Run Ralph's LRS API (ralph.api:app) on its file-system backend: `.venv-lrs/bin/python tests/db/ralph_lrs.py PORT`.

The environment names the backend and its folder (RALPH_RUNSERVER_BACKEND=fs,
RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH) and the credentials file (RALPH_AUTH_FILE), as
`ralph runserver` would; this runs without its code reloader, which watches the working folder.

One change from Ralph 5.1's defaults: its file backend writes in `create` mode, which refuses a second
statement once the file exists (a 500); here it appends, as an LRS must."""

import sys

import uvicorn
from ralph.backends.data.base import BaseOperationType
from ralph.backends.lrs.fs import FSLRSBackend

FSLRSBackend.default_operation_type = BaseOperationType.APPEND

if __name__ == "__main__":
    uvicorn.run("ralph.api:app", host="127.0.0.1", port=int(sys.argv[1]), log_level="info")
