"""Keep the Chinese edition (``zh/``) in step with the English book (``book/``).

One library, one execution: a zh notebook is its English twin with the Markdown cells
swapped for Chinese. Code cells, outputs, execution counts and notebook metadata are copied
as they are; nothing in ``zh/`` is ever executed. The Chinese lives in one translation
source per page, ``zh/translations/<page>.md``: blocks that start with a marker line

    <!-- zh-sync cell=<cell id> en-sha256=<sha256 of the English source> -->

(``section=<slug>`` instead of ``cell=`` for the sections of a Markdown page, which are
split at its headings). The hash is the one of the English text the block was translated
from, so a block whose English has changed since is *stale*; a cell or section without a
block (or with ``en-sha256=untranslated``) is *untranslated*. Commands:

    python tools/sync_zh.py                  # regenerate zh/ and list stale/untranslated
    python tools/sync_zh.py check            # the same list, nothing written; exit 1 if any
    python tools/sync_zh.py stub PAGE        # add untranslated blocks (English text) to PAGE
    python tools/sync_zh.py diff PAGE KEY    # the English diff of a stale cell or section
    python tools/sync_zh.py refresh PAGE KEY # after updating the Chinese: mark it current

PAGE is a page's file name without suffix (``11_data``), KEY a cell id or section slug.
Pages without a translation source have no zh twin yet and are left out of ``zh/_toc.yml``.
The file is also a Sphinx extension for the zh book (``setup`` below): it points Sphinx's
Chinese search at the user dictionary ``zh/search_dict.txt`` by an absolute path.
"""

import difflib
import hashlib
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EN, ZH = ROOT / "book", ROOT / "zh"
SOURCES = ZH / "translations"
SEARCH_DICT = ZH / "search_dict.txt"
SWITCH_JS = ROOT / "_static" / "language_switch.js"
# Pages that only the zh book has, and where its table of contents puts them.
ZH_ONLY = {"Back matter": ["book/glossary"]}
CAPTIONS = {"Start here": "从这里开始", "Part I: SRGAN, step by step": "第一部分：一步步实现 SRGAN",
            "Part II: Under the hood": "第二部分：深入底层", "Back matter": "附录"}
MARKER = re.compile(r"^<!-- zh-sync (cell|section)=(\S+) en-sha256=([0-9a-f]{64}|untranslated)"
                    r" -->$", re.M)
COLAB = re.compile(r"(https://colab\.research\.google\.com/github/[^)\s]*?/blob/[^/)\s]+/)book/")


def sha256(text):
    """The hex sha256 of ``text`` (UTF-8): what a translation block records."""
    return hashlib.sha256(text.encode()).hexdigest()


def slug(heading):
    """The key of a Markdown section: its heading's words, lower case, joined by '-'."""
    return re.sub(r"[^a-z0-9]+", "-", heading.lstrip("#").strip().lower()).strip("-") or "top"


def md_sections(text):
    """Split Markdown ``text`` at its headings (not inside code fences) into
    ``{key: source}``, in order; text before the first heading is the section ``top``."""
    sections, key, lines, fence = {}, "top", [], None
    for line in text.splitlines(keepends=True):
        match = re.match(r"^(`{3,}|~{3,})", line)
        if match and fence is None:
            fence = match.group(1)
        elif match and fence and line.strip() == fence[0] * len(fence):
            fence = None
        if fence is None and re.match(r"^#{1,6} ", line):
            if "".join(lines).strip():
                sections[key] = "".join(lines)
            key, lines, n = slug(line), [], 2
            while key in sections:  # a repeated heading
                key, n = f"{slug(line)}-{n}", n + 1
        lines.append(line)
    if "".join(lines).strip():
        sections[key] = "".join(lines)
    return {k: v.strip("\n") for k, v in sections.items()}


def english_units(page):
    """The translatable units of English ``page``: ``(kind, {key: source})``, kind ``cell``
    (a notebook's Markdown cells by id) or ``section`` (a Markdown page's sections)."""
    nb, md = EN / f"{page}.ipynb", EN / f"{page}.md"
    if nb.exists():
        cells = json.loads(nb.read_text())["cells"]
        return "cell", {c["id"]: "".join(c["source"]) for c in cells
                        if c["cell_type"] == "markdown"}
    return "section", md_sections(md.read_text())


@dataclass
class Block:
    """One translated unit: its Chinese text and the English hash it was made from."""
    kind: str
    key: str
    en_sha: str
    text: str


def read_source(page):
    """The blocks of ``zh/translations/<page>.md`` as ``{key: Block}``."""
    text = (SOURCES / f"{page}.md").read_text()
    marks = list(MARKER.finditer(text))
    blocks = {}
    for mark, following in zip(marks, [*marks[1:], None], strict=True):
        body = text[mark.end():following.start() if following else len(text)]
        blocks[mark.group(2)] = Block(mark.group(1), mark.group(2), mark.group(3),
                                      body.strip("\n"))
    return blocks


def write_source(page, blocks):
    """Write ``blocks`` (in order) as ``zh/translations/<page>.md``, atomically."""
    parts = [f"<!-- zh-sync {b.kind}={b.key} en-sha256={b.en_sha} -->\n{b.text}\n"
             for b in blocks]
    write_text(SOURCES / f"{page}.md", "\n".join(parts))


def write_text(path, text):
    """Write ``text`` to ``path`` through a temporary file, so no half-written file stays."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def pages():
    """The pages that have a translation source (a zh twin), by name."""
    return sorted(p.stem for p in SOURCES.glob("*.md"))


def first_words(text, n=8):
    """The first ``n`` words of ``text`` on one line, to name a cell in a message."""
    return " ".join(text.split()[:n])


def problems(page):
    """What keeps ``page``'s zh twin from being current, one line each: stale, untranslated
    and orphaned (no longer in the English) blocks, each naming the command that fixes it."""
    kind, units = english_units(page)
    blocks, out = read_source(page), []
    src = f"zh/translations/{page}.md"
    for key, english in units.items():
        block = blocks.get(key)
        where = f"{page} {kind} {key} ({first_words(english)!r})"
        if block is None or block.en_sha == "untranslated":
            out.append(f"{where}: untranslated; run `python3 tools/sync_zh.py stub {page}` and "
                       f"translate its block in {src}, then `python3 tools/sync_zh.py refresh "
                       f"{page} {key}`")
        elif block.en_sha != sha256(english):
            out.append(f"{where}: stale, the English changed since it was translated; see "
                       f"`python3 tools/sync_zh.py diff {page} {key}`, update {src}, then "
                       f"`python3 tools/sync_zh.py refresh {page} {key}`")
    for key in blocks.keys() - units.keys():
        out.append(f"{page} {kind} {key}: no longer in the English page; delete its block "
                   f"from {src}")
    return out


CJK = "\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef"  # ideographs, CJK punctuation
ENDS_CJK = re.compile(f"[{CJK}]$")
STARTS_CJK = re.compile(f"^[ \t]*[{CJK}]")
FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})(.*)$")


def _code_lines(lines):
    """For each line, whether it belongs to a code block (a fence that is not a MyST directive)."""
    stack, code = [], []  # stack: ("code" | "directive", fence)
    for line in lines:
        match = FENCE.match(line)
        in_code = bool(stack) and stack[-1][0] == "code"
        if match:
            fence, info = match.group(1), match.group(2).strip()
            if in_code:
                if not info and fence[0] == stack[-1][1][0] and len(fence) >= len(stack[-1][1]):
                    stack.pop()
            elif info.startswith("{"):
                stack.append(("directive", fence))
            elif not info and stack and stack[-1][1] == fence:
                stack.pop()  # the end of a directive
            else:
                stack.append(("code", fence))
            code.append(True)
        else:
            code.append(in_code)
    return code


def join_cjk_lines(text):
    """Remove the soft line breaks between two Chinese characters, outside code blocks.

    A browser shows a line break inside a paragraph as a space: right between English words,
    a stray gap between Chinese characters (the translations are wrapped at about 100
    columns, as the English is). Blank lines (paragraphs), list items, tables and headings
    keep their breaks: each of those lines begins with something other than a Chinese
    character.
    """
    lines = text.split("\n")
    code = _code_lines(lines)
    out = [lines[0]]
    for k in range(1, len(lines)):
        joins = (not code[k - 1] and not code[k] and ENDS_CJK.search(out[-1])
                 and STARTS_CJK.match(lines[k]))
        if joins:
            out[-1] += lines[k].lstrip(" \t")
        else:
            out.append(lines[k])
    return "\n".join(out)


def zh_text(page, key, english, blocks):
    """The Chinese of one unit (the English while it has none), Colab links pointed at zh."""
    block = blocks.get(key)
    if block is None or block.en_sha == "untranslated":
        return COLAB.sub(r"\1zh/book/", english)
    return COLAB.sub(r"\1zh/book/", join_cjk_lines(block.text))


def render(page):
    """The zh twin of ``page`` as text: ``(file name, content)``."""
    kind, units = english_units(page)
    blocks = read_source(page)
    if kind == "section":
        body = "\n\n".join(zh_text(page, k, v, blocks) for k, v in units.items())
        return f"{page}.md", body + "\n"
    nb = json.loads((EN / f"{page}.ipynb").read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            text = zh_text(page, cell["id"], "".join(cell["source"]), blocks)
            cell["source"] = text.splitlines(keepends=True)
    return f"{page}.ipynb", json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def toc():
    """``zh/_toc.yml``: the English table of contents, pages without a zh twin left out,
    captions in Chinese, the zh-only pages added."""
    import yaml

    en = yaml.safe_load((ROOT / "_toc.yml").read_text())
    have = {f"book/{p}" for p in pages()}
    parts = []
    for part in en["parts"]:
        chapters = [c for c in part["chapters"] if c["file"] in have]
        chapters += [{"file": f} for f in ZH_ONLY.get(part["caption"], [])]
        if chapters:
            parts.append({**part, "caption": CAPTIONS[part["caption"]], "chapters": chapters})
    # While the English root has no zh twin, the glossary stands in for it.
    root = en["root"] if en["root"] in have else "book/glossary"
    parts = [{**p, "chapters": [c for c in p["chapters"] if c["file"] != root]} for p in parts]
    parts = [p for p in parts if p["chapters"]]
    head = "# Written by tools/sync_zh.py from ../_toc.yml: do not edit by hand.\n"
    return head + yaml.safe_dump({"format": en["format"], "root": root, "parts": parts},
                                 allow_unicode=True, sort_keys=False)


def switch_js():
    """``_static/language_switch.js`` with its list of pages that have a zh twin updated."""
    text = SWITCH_JS.read_text()
    line = f"const ZH_PAGES = {json.dumps([f'book/{p}' for p in pages()])};"
    return re.sub(r"^const ZH_PAGES = .*;$", lambda _: line, text, count=1, flags=re.M)


def outputs():
    """Every file the sync writes, as ``{path: content}``."""
    files = {ZH / "book" / name: text for name, text in map(render, pages())}
    files[ZH / "_toc.yml"] = toc()
    files[SWITCH_JS] = switch_js()
    return files


def out_of_date():
    """The generated files whose content on disk differs from what the sync would write."""
    return [p for p, text in outputs().items() if not p.exists() or p.read_text() != text]


def sync():
    """Regenerate every zh page, the zh table of contents and the switch's page list."""
    for path, text in outputs().items():
        if not path.exists() or path.read_text() != text:
            write_text(path, text)
            print(f"wrote {path.relative_to(ROOT)}")


def stub(page):
    """Add an ``untranslated`` block holding the English for each unit of ``page`` that has
    none, in the English order (creating the translation source if needed)."""
    kind, units = english_units(page)
    blocks = read_source(page) if (SOURCES / f"{page}.md").exists() else {}
    merged = [blocks.get(k) or Block(kind, k, "untranslated", v) for k, v in units.items()]
    merged += [b for k, b in blocks.items() if k not in units]
    write_source(page, merged)


def refresh(page, key):
    """Record that ``page``'s block ``key`` now translates the current English; print the
    English diff this accepts (when the English it was translated from is in git)."""
    kind, units = english_units(page)
    blocks = read_source(page)
    if key not in blocks or key not in units:
        sys.exit(f"{page}: no {kind} {key!r} in both zh/translations/{page}.md and the English")
    old = english_at_hash(page, key, blocks[key].en_sha) if blocks[key].en_sha != "untranslated" \
        else None
    if old is not None and old != units[key]:  # say what the translation now has to cover
        print("".join(difflib.unified_diff(f"{old}\n".splitlines(True),
                                           f"{units[key]}\n".splitlines(True),
                                           "translated from", "English now")), end="")
    blocks[key].en_sha = sha256(units[key])
    write_source(page, [blocks[k] for k in blocks])


def english_at_hash(page, key, digest):
    """The English text of ``key`` whose sha256 is ``digest``, searched in git history."""
    kind, _ = english_units(page)
    path = f"book/{page}.{'ipynb' if kind == 'cell' else 'md'}"
    commits = subprocess.run(["git", "log", "--format=%H", "--", path], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.split()
    for commit in commits:
        text = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=ROOT,
                              capture_output=True, text=True).stdout
        if kind == "cell":
            old = {c.get("id"): "".join(c["source"]) for c in json.loads(text or "{}")
                   .get("cells", [])}
        else:
            old = md_sections(text)
        if key in old and sha256(old[key]) == digest:
            return old[key]
    return None


def diff(page, key):
    """The unified diff from the English a block was translated from to today's English."""
    _, units = english_units(page)
    block = read_source(page).get(key)
    if block is None or key not in units:
        sys.exit(f"{page}: {key!r} is not both translated and in the English page")
    old = english_at_hash(page, key, block.en_sha)
    if old is None:
        sys.exit(f"{page} {key}: the English it was translated from is in no commit of "
                 f"book/{page}; compare the block with the English by hand")
    return "".join(difflib.unified_diff(f"{old}\n".splitlines(True),
                                        f"{units[key]}\n".splitlines(True),
                                        "translated from", "English now"))


def setup(app):
    """Sphinx extension for the zh book: the search's user dictionary by absolute path."""
    def search_dict(app, config):
        config.html_search_options = {**(config.html_search_options or {}),
                                      "dict": str(SEARCH_DICT)}
    app.connect("config-inited", search_dict)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def main(argv):
    """The command line (see the module's docstring)."""
    command, *args = argv or ["sync"]
    if command in ("sync", "check"):
        if command == "sync":
            sync()
        found = [line for page in pages() for line in problems(page)]
        found += [f"{p.relative_to(ROOT)}: out of date; run `python3 tools/sync_zh.py`"
                  for p in (out_of_date() if command == "check" else [])]
        print("\n".join(found) or f"zh: {len(pages())} pages, all current")
        return 1 if found else 0
    if command == "stub" and len(args) == 1:
        stub(args[0])
    elif command == "refresh" and len(args) == 2:
        refresh(*args)
    elif command == "diff" and len(args) == 2:
        print(diff(*args), end="")
    else:
        sys.exit("usage: python3 tools/sync_zh.py [sync | check | stub PAGE | diff PAGE KEY | "
                 "refresh PAGE KEY]")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
