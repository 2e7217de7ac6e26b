"""The commands behind ``mdh-creds``: each takes the CLI ``Context`` and returns an exit code."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mdh_creds.broker import CredentialBroker
from mdh_creds.factory import build_broker, cache_folder
from mdh_creds.formats import EXPORT_FORMATS, to_export, to_process_json
from mdh_creds.guard import guard_children, refuse_nesting
from mdh_creds.models import to_timestamp
from mdh_creds.settings import Settings, parse_settings

if TYPE_CHECKING:
    from mdh_creds.cli import Context

Handler = Callable[["Context"], int]
NESTED_PROCESS = (
    "mdh-creds was started by its own AWS client (the mdh profile resolving itself): "
    "set mdh_aws_profile to a profile that does not use mdh-creds"
)


def load_settings(ctx: Context) -> Settings:
    return parse_settings(ctx.environ, ctx.flags)


def make_broker(ctx: Context, settings: Settings | None = None) -> CredentialBroker:
    settings = settings or load_settings(ctx)
    no_cache = bool(ctx.flags.get("no_cache"))
    return build_broker(
        settings,
        environ=ctx.environ,
        cache=None if no_cache else "settings",
        force_refresh=bool(ctx.flags.get("force_refresh")),
    )


def cmd_process(ctx: Context) -> int:
    refuse_nesting(ctx.environ, NESTED_PROCESS)
    settings = load_settings(ctx)
    with guard_children():  # an AWS client's credential_process started here must not loop
        creds = make_broker(ctx, settings).get_credentials()
    ctx.stdout.write(to_process_json(creds, settings.account_id) + "\n")
    ctx.stdout.flush()
    return 0


def cmd_token(ctx: Context) -> int:
    token = make_broker(ctx).get_access_token()
    if ctx.flags.get("json"):
        ctx.stdout.write(
            json.dumps({"access_token": token.value, "expires_at": to_timestamp(token.expires_at)})
            + "\n"
        )
    else:
        ctx.stdout.write(token.value + "\n")
    return 0


def cmd_export(ctx: Context) -> int:
    settings = load_settings(ctx)
    creds = make_broker(ctx, settings).get_credentials()
    try:
        text = to_export(creds, ctx.args.format, settings.region, settings.profile)
    except ValueError as exc:
        from mdh_creds.errors import ConfigError

        raise ConfigError(str(exc)) from None
    ctx.stdout.write(text)
    return 0


def cmd_clear(ctx: Context) -> int:
    broker = make_broker(ctx)
    removed = broker.clear_all() if ctx.flags.get("all") else broker.clear()
    where = broker.cache.describe() if broker.cache else "no cache"
    ctx.stderr.write(
        f"mdh-creds: removed {removed} cached entr{'y' if removed == 1 else 'ies'} ({where})\n"
    )
    return 0


def cmd_status(ctx: Context) -> int:
    from mdh_creds.status import collect_status, render_status

    report = collect_status(ctx, load_settings(ctx))
    if ctx.flags.get("json"):
        ctx.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        ctx.stdout.write(render_status(report))
    return 0 if report.get("error") is None else 3


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    return None


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", default=None, help="print JSON")


def _export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=EXPORT_FORMATS, default="env", help="output format")


def _clear_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--all", action="store_true", default=None, help="remove every entry, of every identity"
    )


def _exec_arguments(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--server",
        action="store_true",
        default=None,
        help="serve credentials to CMD from a local endpoint, refreshed while it runs",
    )
    mode.add_argument(
        "--profile-env",
        action="store_true",
        default=None,
        help="give CMD no keys, only AWS_PROFILE: its SDK runs credential_process itself",
    )
    parser.add_argument(
        "argv", nargs=argparse.REMAINDER, metavar="-- CMD ...", help="the command to run, after --"
    )


def _configure_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--migrate",
        action="store_true",
        default=None,
        help="remove static keys for the profile from the credentials file (a backup is kept)",
    )
    parser.add_argument(
        "--create-table",
        action="store_true",
        default=None,
        help="create the DynamoDB cache table (idempotent)",
    )
    parser.add_argument(
        "--lookup-account-id",
        action="store_true",
        default=None,
        help="find the account id (one STS GetCallerIdentity) and write it as aws_account_id",
    )


def _serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--listen", metavar="ADDR", help="serve on ADDR (a Docker bridge address), not 127.0.0.1"
    )
    parser.add_argument("--port", type=int, metavar="PORT", help="port to serve on (default: any)")
    parser.add_argument(
        "--write-env-file",
        metavar="PATH",
        help="write the container variables to PATH (0600) instead of printing them",
    )
    parser.add_argument(
        "--token-file",
        metavar="PATH",
        help="write the token to PATH (0600) and name that file in the variables",
    )


def _lazy(module: str, name: str) -> Handler:
    def handler(ctx: Context) -> int:
        import importlib

        function: Handler = getattr(importlib.import_module(module), name)
        return function(ctx)

    return handler


REGISTRY: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "process": ("print credential_process JSON (the default command)", _no_arguments),
    "token": ("print the MDH REST API access token", _json_flag),
    "export": ("print credentials for a shell or a file", _export_arguments),
    "status": ("show settings with their sources, the cache and its entries", _json_flag),
    "clear": ("remove cached entries", _clear_arguments),
    "exec": ("run CMD with the credentials in its environment", _exec_arguments),
    "serve": ("serve credentials to SDKs on a local endpoint until stopped", _serve_arguments),
    "configure": ("write or update the profile in the AWS config file", _configure_arguments),
    "iam-policy": ("print the least-privilege IAM policy for these settings", _no_arguments),
}
HANDLERS: dict[str, Handler] = {
    "process": cmd_process,
    "token": cmd_token,
    "export": cmd_export,
    "status": cmd_status,
    "clear": cmd_clear,
    "exec": _lazy("mdh_creds.execute", "cmd_exec"),
    "serve": _lazy("mdh_creds.server.serve", "cmd_serve"),
    "configure": _lazy("mdh_creds.configure", "cmd_configure"),
    "iam-policy": _lazy("mdh_creds.iam_policy", "cmd_iam_policy"),
}


def run(ctx: Context) -> int:
    return HANDLERS[ctx.args.command or "process"](ctx)


def describe_cache(
    settings: Settings, broker: CredentialBroker | None, ctx: Context
) -> dict[str, Any]:
    cache = broker.cache if broker else None
    return {
        "setting": settings.cache,
        "backend": cache.name if cache else "none",
        "where": cache.describe() if cache else None,
        "folder": str(cache_folder(settings, ctx.environ)),
    }
