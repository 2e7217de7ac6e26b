"""Settings: the table (``specs``), their parsers (``values``), where they come from and which wins
(``sources``), the AWS config file read (``ini``, ``profiles``) and edited (``awsconfig``), and the
``Settings`` value every command and the provider build (``model``). Empty on purpose: the cache-hit
fast path imports the light modules one by one."""
