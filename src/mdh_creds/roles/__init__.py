"""Roles chained on an mdh profile: the chain read from the AWS config (``chain``), whether a
profile is one of ours and its root's settings (``resolve``), and the AssumeRole call that is a
broker's source (``sts``). The factory wires each hop to a broker of its own."""
