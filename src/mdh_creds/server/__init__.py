"""The container-credentials endpoint (DESIGN 3.4): ``mdh-creds serve`` and ``exec --server``.

``keeper`` holds the credentials served and refreshes them in the background, ``endpoint`` answers
the SDKs over HTTP from memory, ``serve`` and ``launch`` are the command bodies.
"""
