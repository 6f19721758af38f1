#!/usr/bin/env bash
# Checks that the documentation cannot drift from the code (CTest test `docs`):
#   1. every service, rpc, message, enum, enum value and field of proto/xai/**/*.proto has
#      its place in docs/API.md: a heading that names it in backticks, whose section names
#      each of its fields, values or rpcs in backticks; a heading naming a type or rpc that
#      no .proto declares fails too;
#   2. every relative link and image in the Markdown files (git's tracked and untracked but
#      not ignored ones; README.md, docs/, client/python/README.md, ...) resolves to a file
#      or folder of the tree, and every #anchor into a Markdown file names one of its
#      headings (GitHub's slugs);
#   3. with --server-help XAI_SERVER: every --flag that `XAI_SERVER --help` prints appears
#      in docs/OPERATIONS.md;
#   4. with --cli-help XAI: every subcommand of `XAI --help` (and of its subcommands) has a
#      section in docs/CLI.md whose heading names `xai SUBCOMMAND`, and every flag it
#      defines appears there (global flags: anywhere in docs/CLI.md).
# Prints what it checked and each failure; exits 1 on a failure, 2 on a usage error.
set -euo pipefail
cd "$(dirname "$0")/.."

server_help=""
cli_help=""
while [ $# -gt 0 ]; do
  case "$1" in
    --server-help) server_help=${2:?--server-help needs the path of xai-server}; shift 2 ;;
    --cli-help) cli_help=${2:?--cli-help needs the path of xai}; shift 2 ;;
    -h|--help)
      echo "usage: scripts/check-docs.sh [--server-help PATH_TO_xai-server] [--cli-help PATH_TO_xai]"
      echo "Checks docs/API.md against the protos, every relative link of the Markdown files,"
      echo "and (with the binaries) docs/OPERATIONS.md against xai-server --help and"
      echo "docs/CLI.md against xai --help."
      exit 0 ;;
    *) echo "check-docs: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

# Markdown files: git's tracked and untracked-but-not-ignored ones in a checkout; every
# .md outside build trees otherwise (an unpacked archive).
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t md_files < <(git ls-files --cached --others --exclude-standard -- '*.md' | sort -u)
else
  mapfile -t md_files < <(find . \( -name 'build*' -o -name node_modules -o -name .git \) -prune \
                            -o -name '*.md' -print | sed 's|^\./||' | sort)
fi

# Debian's python3 on purpose: the first python3 on PATH may be another one.
exec /usr/bin/python3 - "$server_help" "$cli_help" "${md_files[@]}" <<'PY'
import os
import re
import subprocess
import sys
import urllib.parse

server_help, cli_help, md_files = sys.argv[1], sys.argv[2], sys.argv[3:]
md_files = [f for f in md_files if os.path.isfile(f)]  # deleted but still in the index
failures = []


def fail(message):
    failures.append(message)
    print("  FAIL " + message)


# ---------------------------------------------------------------- Markdown reading
FENCE = re.compile(r"^\s{0,3}(```+|~~~+)")


def strip_fences(lines):
    """The lines with fenced code blocks blanked; and the fenced lines, by index."""
    out, fenced, fence = [], set(), None
    for i, line in enumerate(lines):
        m = FENCE.match(line)
        if fence is None and m:
            fence = m.group(1)[0] * 3
            out.append("")
            fenced.add(i)
        elif fence is not None:
            if line.strip().startswith(fence):
                fence = None
            out.append("")
            fenced.add(i)
        else:
            out.append(line)
    return out, fenced


def headings(lines):
    """(index, level, raw text) of every ATX or setext heading outside code blocks."""
    text, _ = strip_fences(lines)
    found = []
    for i, line in enumerate(text):
        m = re.match(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if m:
            found.append((i, len(m.group(1)), m.group(2)))
        elif (i > 0 and re.match(r"^\s{0,3}(=+|-+)\s*$", line) and text[i - 1].strip()
              and not text[i - 1].lstrip().startswith(("|", "-", "*", ">", "#"))
              and not re.match(r"^\s*\d+\.", text[i - 1])):
            found.append((i - 1, 1 if line.strip()[0] == "=" else 2, text[i - 1].strip()))
    return sorted(found)


def rendered(heading):
    """A heading's text as GitHub renders it: code spans, links and HTML reduced to text."""
    t = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", heading)
    t = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", t)
    t = re.sub(r"<[^>]+>", "", t)
    return t.replace("`", "")


def slug(heading):
    """GitHub's anchor for a heading (github-slugger): lower case, punctuation dropped
    (letters, digits, '_', '-' and spaces kept), spaces as hyphens."""
    s = rendered(heading).strip().lower()
    s = "".join(c for c in s if c.isalnum() or c in "_- ")
    return s.replace(" ", "-")


anchor_cache = {}


def anchors(path):
    if path not in anchor_cache:
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        seen, result = {}, set()
        for _, _, text in headings(lines):
            base = slug(text)
            n = seen.get(base, 0)
            result.add(base if n == 0 else f"{base}-{n}")
            seen[base] = n + 1
        for line in lines:  # explicit HTML anchors
            result.update(re.findall(r'<a\s+(?:name|id)="([^"]+)"', line))
        anchor_cache[path] = result
    return anchor_cache[path]


def code_spans(text):
    return re.findall(r"`+([^`]+)`+", text)


# ---------------------------------------------------------------- 1. protos and API.md
def parse_proto(path):
    """Services, rpcs, messages, enums, values and fields of one .proto, with their scope."""
    with open(path, encoding="utf-8") as f:
        src = f.read()
    # Comments out, line numbers kept.
    src = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), src, flags=re.S)
    src = re.sub(r"//[^\n]*", "", src)
    tokens = []
    for m in re.finditer(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|[A-Za-z_][\w.]*|-?\d[\w.]*|\S', src):
        tokens.append((m.group(0), src.count("\n", 0, m.start()) + 1))
    entities, stack, i = [], [], 0

    def skip_statement(j):
        depth = 0
        while j < len(tokens):
            t = tokens[j][0]
            if t == "{":
                depth += 1
            elif t == "}":
                depth -= 1
                if depth == 0:
                    return j + 1
            elif t == ";" and depth == 0:
                return j + 1
            j += 1
        return j

    def add(kind, name, line):
        parents = [s for s in stack if s[0] in ("message", "enum", "service")]
        parent = parents[-1][1] if parents else None
        if kind in ("message", "enum", "service") and parent and kind != "service":
            qualified = parent + "." + name
        else:
            qualified = name
        entities.append({"kind": kind, "name": name, "qualified": qualified, "parent": parent,
                         "where": f"{path}:{line}"})
        return qualified

    while i < len(tokens):
        t, line = tokens[i]
        scope = stack[-1][0] if stack else None
        if t == "}":
            stack.pop()
            i += 1
        elif t == ";":
            i += 1
        elif t in ("syntax", "package", "import", "option", "reserved", "extensions", "edition"):
            i = skip_statement(i)
        elif t in ("message", "enum", "service") and i + 2 < len(tokens) and tokens[i + 2][0] == "{":
            qualified = add(t, tokens[i + 1][0], line)
            stack.append((t, qualified))
            i += 3
        elif t == "oneof" and i + 2 < len(tokens) and tokens[i + 2][0] == "{":
            add("field", tokens[i + 1][0], line)  # the oneof's name, documented as a field
            stack.append(("oneof", stack[-1][1]))
            i += 3
        elif t == "rpc" and scope == "service":
            add("rpc", tokens[i + 1][0], line)
            i = skip_statement(i)
        elif scope == "enum":
            add("value", t, line)
            i = skip_statement(i)
        elif scope in ("message", "oneof"):
            j = i
            if t == "map":  # map<K, V> name = n;
                while tokens[j][0] != ">":
                    j += 1
                name_at = j + 1
            else:
                if t in ("repeated", "optional", "required"):
                    j += 1
                name_at = j + 1
            add("field", tokens[name_at][0], tokens[name_at][1])
            i = skip_statement(i)
        else:
            raise SyntaxError(f"{path}:{line}: cannot read '{t}'")
    return entities


def check_api():
    protos = []
    for root, _, names in os.walk("proto/xai"):
        protos += [os.path.join(root, n) for n in names if n.endswith(".proto")]
    protos.sort()
    entities = []
    for p in protos:
        try:
            entities += parse_proto(p)
        except (SyntaxError, IndexError) as e:
            fail(f"{p}: the checker cannot parse it ({e})")
    api = "docs/API.md"
    if not os.path.isfile(api):
        fail(f"{api} is missing")
        return f"the protos against {api}"
    with open(api, encoding="utf-8") as f:
        lines = f.read().split("\n")
    text, _ = strip_fences(lines)
    hs = headings(lines)
    sections = []  # (names in the heading's code spans, the section's text with code)
    for k, (at, _, heading) in enumerate(hs):
        end = hs[k + 1][0] if k + 1 < len(hs) else len(lines)
        sections.append((set(s.strip() for s in code_spans(heading)),
                         "\n".join(lines[at + 1:end])))

    def mentioned(word, body):
        # In a code span or a fenced block, as a whole word.
        pattern = re.compile(r"(?<![\w])" + re.escape(word) + r"(?![\w])")
        spans = code_spans(re.sub(r"^\s*(```|~~~).*$", "", body, flags=re.M))
        fenced = re.findall(r"^\s*(?:```|~~~)[^\n]*\n(.*?)^\s*(?:```|~~~)", body, flags=re.M | re.S)
        return any(pattern.search(s) for s in spans + fenced)

    containers = [e for e in entities if e["kind"] in ("service", "message", "enum")]
    counts = {}
    for e in entities:
        counts[e["kind"]] = counts.get(e["kind"], 0) + 1
    for c in containers:
        names = {c["name"], c["qualified"]}
        own = [body for heads, body in sections if heads & names]
        if not own:
            fail(f"{c['kind']} {c['qualified']} ({c['where']}) has no section in {api}: "
                 f"a heading naming `{c['name']}`")
            continue
        body = "\n".join(own)
        for m in entities:
            if m["parent"] == c["qualified"] and m["kind"] in ("field", "value", "rpc"):
                if not mentioned(m["name"], body):
                    fail(f"{m['kind']} {c['qualified']}.{m['name']} ({m['where']}) is not named "
                         f"in `{m['name']}` in {api}'s section on {c['name']}")
    # The other way: a heading that names a type or rpc the protos do not declare.
    known = {e["name"] for e in entities} | {e["qualified"] for e in entities}
    for heads, _ in sections:
        for h in heads:
            if re.fullmatch(r"[A-Z][A-Za-z0-9]*(\.[A-Z][A-Za-z0-9]*)*", h) and h not in known:
                fail(f"{api} has a section on `{h}`, which no .proto under proto/xai declares")
    return (f"{len(protos)} .proto files under proto/xai: {counts.get('service', 0)} services, "
            f"{counts.get('rpc', 0)} rpcs, {counts.get('message', 0)} messages, "
            f"{counts.get('enum', 0)} enums, {counts.get('value', 0)} enum values, "
            f"{counts.get('field', 0)} fields, each named in its section of {api}")


# ---------------------------------------------------------------- 2. links
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFDEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
HTML = re.compile(r"<(?:a|img)\b[^>]*?\b(?:href|src)=\"([^\"]+)\"", re.I)


def check_links():
    root = os.path.realpath(".")
    total = 0
    for md in md_files:
        with open(md, encoding="utf-8") as f:
            lines = f.read().split("\n")
        text, _ = strip_fences(lines)
        for n, line in enumerate(text, 1):
            line = re.sub(r"(`+)(?:(?!\1).)+\1", "", line)  # code spans are not links
            targets = [m.group(1) for m in LINK.finditer(line)] + HTML.findall(line)
            m = REFDEF.match(line)
            if m:
                targets.append(m.group(1))
            for target in targets:
                if not target or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith("//"):
                    continue  # http:, https:, mailto: ...: not checked offline
                total += 1
                path, _, fragment = target.partition("#")
                path = urllib.parse.unquote(path.split("?")[0])
                where = f"{md}:{n}: link '{target}'"
                if path:
                    base = root if path.startswith("/") else os.path.dirname(os.path.abspath(md))
                    resolved = os.path.realpath(os.path.join(base, path.lstrip("/")))
                    if not (resolved == root or resolved.startswith(root + os.sep)):
                        fail(f"{where} leaves the repository")
                        continue
                    if not os.path.exists(resolved):
                        fail(f"{where}: no file {os.path.relpath(resolved, root)}")
                        continue
                else:
                    resolved = os.path.abspath(md)
                if fragment:
                    if not resolved.endswith(".md") or os.path.isdir(resolved):
                        continue  # anchors into code files are line numbers on GitHub
                    if urllib.parse.unquote(fragment).lower() not in anchors(resolved):
                        fail(f"{where}: {os.path.relpath(resolved, root)} has no heading "
                             f"with the anchor #{fragment}")
    return f"{total} relative links and anchors in {len(md_files)} Markdown files resolve"


# ---------------------------------------------------------------- 3. server flags
def run_help(argv):
    try:
        done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        fail(f"{' '.join(argv)}: {e}")
        return None
    if done.returncode != 0:
        fail(f"{' '.join(argv)} exited {done.returncode}")
        return None
    return done.stdout.decode("utf-8", "replace")


def help_and_doc(binary, doc):
    """`binary --help`'s text and `doc`'s, or None (the failure already reported)."""
    out = run_help([binary, "--help"])
    if out is None:
        return None
    if not os.path.isfile(doc):
        fail(f"{doc} is missing")
        return None
    with open(doc, encoding="utf-8") as f:
        return out, f.read()


def check_server_flags(binary):
    doc = "docs/OPERATIONS.md"
    texts = help_and_doc(binary, doc)
    if texts is None:
        return f"the flags of {binary} --help against {doc}"
    out, ops = texts
    flags = sorted(set(re.findall(r"(?<![\w-])(--[a-z0-9][a-z0-9-]*)", out)))
    if not flags:
        fail(f"{binary} --help printed no --flag")
    for flag in flags:
        if not re.search(re.escape(flag) + r"(?![a-z0-9-])", ops):
            fail(f"{flag} (in xai-server --help) is not in {doc}")
    return f"{len(flags)} flags of {binary} --help, each in {doc}"


# ---------------------------------------------------------------- 4. CLI
def subcommands(help_text):
    part = help_text.split("Subcommands:", 1)
    if len(part) < 2:
        return []
    return re.findall(r"^  ([a-z][a-z0-9-]*)\s", part[1], flags=re.M)


def defined_flags(help_text):
    # Option lines only ("  -k,--top-k INT ..."): descriptions name other programs' flags too.
    return set(re.findall(r"^\s+(?:-\w,)?(--[a-z0-9][a-z0-9-]*)", help_text, flags=re.M)) - {"--help"}


def check_cli(binary):
    doc = "docs/CLI.md"
    texts = help_and_doc(binary, doc)
    if texts is None:
        return f"the subcommands and flags of {binary} --help against {doc}"
    top, whole = texts
    lines = whole.split("\n")
    hs = headings(lines)
    sections = {}
    for k, (at, _, heading) in enumerate(hs):
        end = hs[k + 1][0] if k + 1 < len(hs) else len(lines)
        for span in code_spans(heading):
            if span.startswith("xai "):
                sections[span.split(" [")[0].split(" MODEL")[0].strip()] = "\n".join(lines[at:end])

    def has_flag(flag, body):
        return re.search(re.escape(flag) + r"(?![a-z0-9-])", body) is not None

    n_flags, n_commands = 0, 0
    for flag in sorted(defined_flags(top)):
        n_flags += 1
        if not has_flag(flag, whole):
            fail(f"{flag} (in xai --help) is not in {doc}")
    queue = [[c] for c in subcommands(top)]
    while queue:
        path = queue.pop(0)
        name = "xai " + " ".join(path)
        out = run_help([binary] + path + ["--help"])
        if out is None:
            continue
        n_commands += 1
        nested = subcommands(out)
        queue += [path + [c] for c in nested]
        body = sections.get(name)
        if body is None and len(path) > 1:  # xai admin reload: in xai admin's section
            body = sections.get("xai " + " ".join(path[:-1]))
            if body is not None and name not in body:
                fail(f"`{name}` is not named in {doc}'s section on xai {' '.join(path[:-1])}")
        if body is None:
            fail(f"`{name}` has no section in {doc}: a heading naming `{name}`")
            continue
        for flag in sorted(defined_flags(out)):
            n_flags += 1
            if not has_flag(flag, body):
                fail(f"{flag} (in {name} --help) is not in {doc}'s section on {name}")
    return f"{n_commands} subcommands and {n_flags} flags of {binary} --help, each in its section of {doc}"


def run(check, *args):
    before = len(failures)
    what = check(*args)
    n = len(failures) - before
    print(f"check-docs: {'ok  ' if n == 0 else 'FAILED'} {what}" + (f": {n} failure(s) above" if n else ""))


run(check_api)
run(check_links)
if server_help:
    run(check_server_flags, server_help)
else:
    print("check-docs: skipped the server's flags (no --server-help)")
if cli_help:
    run(check_cli, cli_help)
else:
    print("check-docs: skipped the CLI (no --cli-help)")
if failures:
    print(f"check-docs: {len(failures)} failure(s), listed above with FAIL")
    sys.exit(1)
print("check-docs: the docs agree with the protos, the tree and the binaries")
PY
