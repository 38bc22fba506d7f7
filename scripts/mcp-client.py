#!/usr/bin/env python3
"""A small MCP client for pgward's MCP endpoint, on the official MCP Python SDK.

List the tools, or call one, over stdio (pgward mcp as a child process) or
Streamable HTTP (with a bearer token):

    scripts/mcp-client.py --stdio -- pgward mcp --config config/pgward.yaml --user analyst-ann tools
    scripts/mcp-client.py --stdio -- pgward mcp --config config/pgward.yaml --user analyst-ann \\
        call query '{"sql": "SELECT full_name, ssn FROM shop.customers LIMIT 3"}'
    scripts/mcp-client.py --http http://127.0.0.1:8808/mcp --token "$TOKEN" call whoami

With --stdio, everything after `--` up to the command word (tools, call,
script) is the server command line. The password for `pgward mcp` comes from
PGWARD_MCP_PASSWORD, as the agent host would set it (every PGWARD_* variable
is passed on to the server).

`script FILE` runs the calls listed in a JSON file ({"calls": [[tool, args],
...]}) and prints one JSON transcript: the server's info, the tool list and
every result. pgward's tests drive the endpoint this way.

Needs the `mcp` package (scripts/requirements-mcp.txt).
"""

import argparse
import asyncio
import json
import os
import sys
from contextlib import asynccontextmanager

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


@asynccontextmanager
async def connect(opts):
    if opts.http:
        headers = {"Authorization": f"Bearer {opts.token}"} if opts.token else None
        async with create_mcp_http_client(headers=headers) as http:
            async with streamable_http_client(opts.http, http_client=http) as (read, write):
                async with ClientSession(read, write) as session:
                    yield session
    else:
        command, *args = opts.server
        # The SDK passes the child only a few variables; pgward's own go along.
        env = {k: v for k, v in os.environ.items() if k.startswith("PGWARD_")}
        params = StdioServerParameters(command=command, args=args, env=env)
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                yield session


def result_json(r):
    text = "\n".join(c.text for c in r.content if getattr(c, "type", "") == "text")
    return {"is_error": r.is_error, "text": text, "structured": r.structured_content}


def tool_json(t):
    return {
        "name": t.name,
        "description": t.description,
        "input_schema": t.input_schema,
        "annotations": t.annotations.model_dump(exclude_none=True) if t.annotations else None,
    }


async def run(opts):
    async with connect(opts) as session:
        init = await session.initialize()
        if opts.command == "tools":
            for t in (await session.list_tools()).tools:
                print(f"{t.name}: {t.description}")
            return 0
        if opts.command == "call":
            args = json.loads(opts.args) if opts.args else {}
            r = await session.call_tool(opts.tool, args)
            out = r.structured_content if r.structured_content is not None else result_json(r)["text"]
            print(json.dumps(out, indent=2) if not isinstance(out, str) else out)
            return 1 if r.is_error else 0
        with open(opts.file, encoding="utf-8") as f:
            script = json.load(f)
        transcript = {
            "server_info": init.server_info.model_dump(exclude_none=True),
            "protocol_version": init.protocol_version,
            "instructions": init.instructions,
            "tools": [tool_json(t) for t in (await session.list_tools()).tools],
            "calls": [],
        }
        for tool, args in script.get("calls", []):
            try:
                r = await session.call_tool(tool, args)
                entry = result_json(r)
            except Exception as e:  # a protocol error is a result too
                entry = {"is_error": True, "protocol_error": repr(e), "text": str(e), "structured": None}
            entry.update({"tool": tool, "args": args})
            transcript["calls"].append(entry)
        print(json.dumps(transcript))
        return 0


def leaves(e):
    """The exceptions inside (nested) exception groups."""
    if isinstance(e, BaseExceptionGroup):
        return [x for sub in e.exceptions for x in leaves(sub)]
    return [e]


def main(argv):
    words = {"tools", "call", "script"}
    server = []
    if "--stdio" in argv:
        i = argv.index("--stdio")
        rest = argv[i + 1 :]
        if rest[:1] == ["--"]:
            rest = rest[1:]
        j = next((k for k, w in enumerate(rest) if w in words), len(rest))
        server, argv = rest[:j], argv[:i] + ["--stdio"] + rest[j:]
    p = argparse.ArgumentParser(description="MCP client for pgward")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--stdio", action="store_true", help="run the server command given after --")
    g.add_argument("--http", metavar="URL", help="Streamable HTTP endpoint URL")
    p.add_argument("--token", help="bearer token for --http")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("tools", help="list the tools")
    c = sub.add_parser("call", help="call one tool")
    c.add_argument("tool")
    c.add_argument("args", nargs="?", help="arguments as a JSON object")
    s = sub.add_parser("script", help="run a JSON script of calls, print a JSON transcript")
    s.add_argument("file")
    opts = p.parse_args(argv)
    opts.server = server
    if opts.stdio and not server:
        p.error("--stdio needs the server command after --")
    try:
        return asyncio.run(run(opts))
    except Exception as e:  # connection refused, 401, ...
        why = "; ".join(f"{type(x).__name__}: {x}" for x in leaves(e))
        if opts.command == "script":
            print(json.dumps({"connect_error": why}))
            return 0
        print(f"mcp-client: {why}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
