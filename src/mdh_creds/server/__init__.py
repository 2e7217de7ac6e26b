"""The container-credentials endpoint (DESIGN 3.4) behind ``mdh-creds serve`` and ``exec --server``.

``keeper`` holds the credentials served and refreshes them in the background, ``endpoint`` answers
the SDKs over HTTP from memory, ``launch`` starts both for a profile, ``serve`` is the command body.
"""
