"""xai-py (also ``python3 -m xai_client``): a few of the client's calls from a shell, for
checking an installation and a server. The full command-line client is the C++ ``xai``."""

import argparse
import dataclasses
import json
import os
import sys
from typing import List, Optional

from xai_client import XaiClient, XaiError, __version__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xai-py", description="Calls an xai-server with the Python client (xai_client). "
        "Exit status: 0 success, 1 a call failed (the server's message is printed).")
    parser.add_argument("--server", default=os.environ.get("XAI_SERVER", "localhost:50051"),
                        help="host:port or dns:///name:port (env XAI_SERVER; default "
                        "%(default)s)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds per call, retries included (default %(default)s)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--version", action="version", version=f"xai_client {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    classify = commands.add_parser("classify", help="the most probable classes of images")
    classify.add_argument("model")
    classify.add_argument("images", metavar="IMAGE", nargs="+", help="image files")
    classify.add_argument("-k", "--top-k", type=int, default=5, help="classes per image")
    classify.add_argument("--model-version", type=int, default=0, help="0: newest ready")
    commands.add_parser("models", help="every model version and its state")
    health = commands.add_parser("health", help="SERVING or not, of the server or a model")
    health.add_argument("model", nargs="?")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        with XaiClient(args.server, timeout=args.timeout) as xai:
            if args.command == "classify":
                results = {image: xai.classify(args.model, image, top_k=args.top_k,
                                               version=args.model_version)
                           for image in args.images}
                if args.json:
                    print(json.dumps({image: [{"index": c.index, "label": c.label,
                                               "probability": c.probability}
                                              for c in r.classes]
                                      for image, r in results.items()}, indent=2))
                for image, r in ({} if args.json else results).items():
                    print(f"{image}: {r.model} v{r.version}")
                    for c in r.classes:
                        print(f"  {c.index:>5}  {c.probability:8.4f}  {c.label}")
            elif args.command == "models":
                models = xai.list_models()
                if args.json:
                    print(json.dumps([dataclasses.asdict(m) for m in models], indent=2))
                for m in ([] if args.json else models):
                    reason = f" ({m.reason})" if m.reason else ""
                    print(f"{m.name} v{m.version} {m.state}{reason}")
            elif args.command == "health":
                status = xai.health(args.model)
                print(json.dumps({"status": status}) if args.json else status)
                return 0 if status == "SERVING" else 1
    except XaiError as e:
        print(f"xai-py: {e}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as e:  # an unreadable image, a bad argument
        print(f"xai-py: {e}", file=sys.stderr)
        return 1
    return 0
