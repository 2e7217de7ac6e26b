"""Our own AWS side: the clients for the plugin's own calls (``clients``), Secrets Manager
(``secrets``), the recursion guard (``guard``) and the IAM policy they need (``iam_policy``).
Empty on purpose: boto3 loads only with a client."""
