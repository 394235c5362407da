"""The Chinese edition (zh/) against the English book: JSON only, nothing executed.

For every page with a zh twin: the same cells, code and outputs as the English, every
Markdown cell or section translated from today's English (tools/sync_zh.py records the
English hash of each translation), and one Chinese term per core concept (the glossary's).
"""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tools import sync_zh

ROOT = Path(__file__).resolve().parents[1]
PAGES = sync_zh.pages()
NOTEBOOKS = [p for p in PAGES if (ROOT / "book" / f"{p}.ipynb").exists()]
GLOSSARY = ROOT / "zh" / "book" / "glossary.md"

# Core concepts: the glossary's Chinese term, the English that calls for it, and the variants
# the zh book does not use (each may appear once, in the glossary, to be recognised).
CORE = {
    "超分辨率": (r"super-resol", [r"超分(?!辨率)", "超解析"]),
    "生成器": (r"\bgenerators?\b", ["产生器"]),
    "判别器": (r"\bdiscriminators?\b", ["鉴别器"]),
    "内容损失": (r"content loss", ["内容损耗"]),
    "感知损失": (r"perceptual loss", ["知觉损失", "感知损耗"]),
    "对抗损失": (r"adversarial loss", ["对抗性损失", "对抗损耗"]),
    "亚像素卷积": (r"sub-pixel convolution", ["子像素卷积"]),
    "残差块": (r"residual blocks?", ["残差模块", "残差单元"]),
    "条件均值": (r"conditional mean", ["条件平均"]),
    "生成对抗网络": (r"generative adversarial network", ["对抗生成网络"]),
    "双三次插值": (r"\bbicubic interpolation", ["双立方插值"]),
    "批归一化": (r"batch norm", ["批量归一化", "批标准化"]),
    "感受野": (r"receptive field", ["接受野", "感受域"]),
}


def load(path):
    return json.loads(Path(path).read_text())


def notebook_mismatches(en, zh):
    """How notebook ``zh`` departs from ``en`` beyond its Markdown text, one line each."""
    out = []
    if en["metadata"] != zh["metadata"] or en["nbformat"] != zh["nbformat"]:
        out.append("notebook metadata differs")
    en_cells = [(c["id"], c["cell_type"]) for c in en["cells"]]
    zh_cells = [(c["id"], c["cell_type"]) for c in zh["cells"]]
    if en_cells != zh_cells:
        out.append(f"cell ids/types differ: {en_cells} != {zh_cells}")
        return out
    for a, b in zip(en["cells"], zh["cells"], strict=True):
        same = ({k: v for k, v in a.items() if k != "source"}
                == {k: v for k, v in b.items() if k != "source"})
        if a["cell_type"] == "code" and (a["source"] != b["source"] or not same):
            out.append(f"code cell {a['id']}: code, outputs or metadata differ")
        elif not same:
            out.append(f"markdown cell {a['id']}: metadata or attachments differ")
    return out


@pytest.mark.parametrize("page", NOTEBOOKS)
def test_zh_notebook_has_the_english_cells_code_and_outputs(page):
    en = load(ROOT / "book" / f"{page}.ipynb")
    zh = load(ROOT / "zh" / "book" / f"{page}.ipynb")
    assert notebook_mismatches(en, zh) == [], (
        f"zh/book/{page}.ipynb: run `python3 tools/sync_zh.py` to regenerate it")


@pytest.mark.parametrize("page", PAGES)
def test_zh_page_has_no_stale_or_untranslated_cell(page):
    found = sync_zh.problems(page)
    assert found == [], "\n".join(found)


def test_generated_zh_files_are_current():
    stale = [str(p.relative_to(ROOT)) for p in sync_zh.out_of_date()]
    assert stale == [], f"{stale}: out of date; run `python3 tools/sync_zh.py`"


@pytest.mark.parametrize("page", NOTEBOOKS)
def test_zh_colab_link_opens_the_zh_notebook(page):
    zh = load(ROOT / "zh" / "book" / f"{page}.ipynb")
    text = "".join(zh["cells"][0]["source"])
    assert f"/blob/main/zh/book/{page}.ipynb)" in text
    assert "/blob/main/book/" not in "".join("".join(c["source"]) for c in zh["cells"]
                                             if c["cell_type"] == "markdown")


def zh_texts():
    """``{page: Chinese text}`` of every zh page (the Markdown of notebooks)."""
    texts = {}
    for path in sorted((ROOT / "zh" / "book").glob("*.*")):
        if path.suffix == ".ipynb":
            texts[path.stem] = "\n".join("".join(c["source"]) for c in load(path)["cells"]
                                         if c["cell_type"] == "markdown")
        elif path.suffix == ".md":
            texts[path.stem] = path.read_text()
    return texts


def glossary_rows():
    """``{Chinese: English}`` from the glossary's tables."""
    rows = re.findall(r"^\| ([^|]+?) \| ([^|]+?) \|", GLOSSARY.read_text(), re.M)
    return {zh: en for zh, en in rows if zh not in ("中文", "---")}


def test_glossary_fixes_one_term_per_core_concept_with_its_english():
    rows = glossary_rows()
    for term, (english, _) in CORE.items():
        assert term in rows, f"zh/book/glossary.md: no row for {term}"
        assert re.search(english, rows[term], re.I), f"glossary: {term} is not {english}"


def test_pages_use_the_glossary_terms_not_their_variants():
    texts = zh_texts()
    for term, (_, variants) in CORE.items():
        for variant in variants:
            where = {page: len(re.findall(variant, text)) for page, text in texts.items()}
            where = {page: n for page, n in where.items() if n}
            assert where in ({}, {"glossary": 1}), (
                f"{variant!r} used in {where}: the zh book writes {term} (zh/book/glossary.md)")


@pytest.mark.parametrize("page", PAGES)
def test_zh_page_names_each_core_concept_its_english_names(page):
    _, units = sync_zh.english_units(page)
    english = "\n".join(units.values())
    zh = zh_texts()[page]
    missing = [term for term, (pattern, _) in CORE.items()
               if re.search(pattern, english, re.I) and term not in zh]
    assert missing == [], f"zh/book/{page}: the English names {missing}'s concepts, the zh not"


# Numbers the Chinese writes differently: "350 thousand" is 35 万, a "2-core CPU" 双核.
WRITTEN_OUT = {"350": "35 万", "2": "双核"}
NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*")


@pytest.mark.parametrize("page", PAGES)
def test_zh_page_keeps_every_number_of_the_english(page):
    # Each block states the numbers its English states (the Chinese may add some, as the
    # local set-up of "Before you start" does).
    _, units = sync_zh.english_units(page)
    blocks = sync_zh.read_source(page)
    for key, english in units.items():
        zh = blocks[key].text
        missing = [n for n in set(NUMBER.findall(english)) - set(NUMBER.findall(zh))
                   if WRITTEN_OUT.get(n, "\0") not in zh]
        assert missing == [], f"{page} {key}: the Chinese lacks {sorted(missing)}"


def test_search_dictionary_keeps_the_core_terms_whole():
    import jieba

    plain = jieba.Tokenizer()
    with_dict = jieba.Tokenizer()
    with_dict.load_userdict(str(sync_zh.SEARCH_DICT))
    for term in ("超分辨率", "生成对抗网络", "感知损失"):
        assert term not in plain.cut_for_search(f"用于{term}的方法")  # why the dictionary
        assert term in with_dict.cut_for_search(f"用于{term}的方法")


def test_sphinx_extension_gives_the_search_dictionary_by_absolute_path():
    handlers = []

    class App:
        def connect(self, event, handler):
            handlers.append((event, handler))

    class Config:
        html_search_options = {"type": "default"}

    sync_zh.setup(App())
    config = Config()
    [(event, handler)] = handlers
    handler(None, config)
    assert event == "config-inited"
    assert config.html_search_options == {"type": "default", "dict": str(sync_zh.SEARCH_DICT)}
    assert Path(config.html_search_options["dict"]).is_absolute()


# The tool itself, on a small project in a temporary git repository.

NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "id": "intro1", "metadata": {},
         "source": ["# A chapter\n", "\n",
                    "[Open this chapter in Colab](https://colab.research.google.com/github/"
                    "o/r/blob/main/book/01_x.ipynb)"]},
        {"cell_type": "code", "execution_count": 3, "id": "code1", "metadata": {"tags": []},
         "outputs": [{"name": "stdout", "output_type": "stream", "text": ["42\n"]}],
         "source": ["print(42)"]},
        {"cell_type": "markdown", "id": "text2", "metadata": {}, "source": ["The answer."]},
    ],
    "metadata": {"kernelspec": {"name": "python3"}}, "nbformat": 4, "nbformat_minor": 5,
}
PAGE = "# Page\n\nIntro.\n\n```\n# not a heading\n```\n\n## Part\n\nMore.\n\n## Part\n\nAgain.\n"


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A tiny English book (a notebook and a Markdown page) in a git repository, with the
    sync tool pointed at it."""
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "01_x.ipynb").write_text(json.dumps(NOTEBOOK, indent=1) + "\n")
    (tmp_path / "book" / "02_y.md").write_text(PAGE)
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: book/01_x\nparts:\n- caption: Back matter\n  chapters:\n"
        "  - file: book/02_y\n")
    (tmp_path / "_static").mkdir()
    shutil.copy(sync_zh.SWITCH_JS, tmp_path / "_static" / "language_switch.js")
    for name, value in {"ROOT": tmp_path, "EN": tmp_path / "book", "ZH": tmp_path / "zh",
                        "SOURCES": tmp_path / "zh" / "translations",
                        "SWITCH_JS": tmp_path / "_static" / "language_switch.js"}.items():
        monkeypatch.setattr(sync_zh, name, value)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(tmp_path)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "English"], check=True)
    return tmp_path, git


def translate(page, texts):
    """Stub ``page``, put ``texts`` ({key: Chinese}) in its blocks, refresh them."""
    sync_zh.stub(page)
    blocks = sync_zh.read_source(page)
    for key, text in texts.items():
        blocks[key].text = text
    sync_zh.write_source(page, blocks.values())
    for key in texts:
        sync_zh.refresh(page, key)


def test_sections_split_at_headings_outside_code_fences():
    sections = sync_zh.md_sections(PAGE)
    assert list(sections) == ["page", "part", "part-2"]
    assert "# not a heading" in sections["page"]
    assert sync_zh.slug("## Upscale your own photo, in the browser!") == (
        "upscale-your-own-photo-in-the-browser")
    assert sync_zh.first_words("a  b\nc d", 3) == "a b c"
    assert sync_zh.sha256("") == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")


def test_sync_copies_code_and_outputs_and_translates_markdown(project):
    root, _ = project
    sync_zh.stub("01_x")
    assert [line.split()[0] for line in sync_zh.problems("01_x")] == ["01_x", "01_x"]
    assert "untranslated" in sync_zh.problems("01_x")[0]
    translate("01_x", {"intro1": "# 一章\n\n[在 Colab 中打开](https://colab.research.google.com/"
                       "github/o/r/blob/main/book/01_x.ipynb)", "text2": "答案。"})
    translate("02_y", {"page": "# 页\n\n引言。", "part": "## 部分\n\n更多。",
                       "part-2": "## 部分\n\n再来。"})
    assert sync_zh.problems("01_x") == [] and sync_zh.problems("02_y") == []
    assert sorted(p.name for p in sync_zh.out_of_date()) == [
        "01_x.ipynb", "02_y.md", "_toc.yml", "language_switch.js"]
    sync_zh.sync()
    assert sync_zh.out_of_date() == []
    zh = load(root / "zh" / "book" / "01_x.ipynb")
    assert notebook_mismatches(NOTEBOOK, zh) == []
    assert zh["cells"][2]["source"] == ["答案。"]
    assert "/blob/main/zh/book/01_x.ipynb" in "".join(zh["cells"][0]["source"])
    assert (root / "zh" / "book" / "02_y.md").read_text() == (
        "# 页\n\n引言。\n\n## 部分\n\n更多。\n\n## 部分\n\n再来。\n")
    assert "book/01_x" in (root / "zh" / "_toc.yml").read_text()
    assert 'const ZH_PAGES = ["book/01_x", "book/02_y"];' in (
        root / "_static" / "language_switch.js").read_text()
    assert sync_zh.main(["check"]) == 0


def test_check_fails_on_an_edited_english_cell_and_shows_its_diff(project, capsys):
    root, git = project
    translate("01_x", {"intro1": "# 一章", "text2": "答案。"})
    translate("02_y", {"page": "# 页", "part": "## 部分", "part-2": "## 部分"})
    sync_zh.sync()
    # The English changes: a Markdown cell (stale), a code cell (the zh copy is out of date).
    nb = json.loads(json.dumps(NOTEBOOK))
    nb["cells"][2]["source"] = ["The answer is 42."]
    nb["cells"][1]["source"] = ["print(6 * 7)"]
    (root / "book" / "01_x.ipynb").write_text(json.dumps(nb, indent=1) + "\n")
    [line] = sync_zh.problems("01_x")
    assert line.startswith("01_x cell text2 ('The answer is 42.'): stale")
    assert "python3 tools/sync_zh.py diff 01_x text2" in line
    assert "python3 tools/sync_zh.py refresh 01_x text2" in line
    assert notebook_mismatches(nb, load(root / "zh" / "book" / "01_x.ipynb")) == [
        "code cell code1: code, outputs or metadata differ"]
    assert sync_zh.main(["check"]) == 1
    assert "zh/book/01_x.ipynb: out of date" in capsys.readouterr().out
    assert sync_zh.english_at_hash("01_x", "text2", sync_zh.sha256("The answer.")) == (
        "The answer.")
    assert "-The answer.\n+The answer is 42." in sync_zh.diff("01_x", "text2")
    # Refreshing accepts the change and shows what it accepted.
    sync_zh.refresh("01_x", "text2")
    assert "+The answer is 42." in capsys.readouterr().out
    assert sync_zh.problems("01_x") == []
    # A cell removed from the English leaves an orphaned block, which is named.
    nb["cells"].pop()
    (root / "book" / "01_x.ipynb").write_text(json.dumps(nb, indent=1) + "\n")
    assert sync_zh.problems("01_x") == [
        "01_x cell text2: no longer in the English page; delete its block from "
        "zh/translations/01_x.md"]
    sync_zh.refresh("02_y", "part")  # nothing changed: refreshing is harmless
    assert sync_zh.problems("02_y") == []


def test_write_text_leaves_no_temporary_file(tmp_path):
    sync_zh.write_text(tmp_path / "a" / "b.md", "文字")
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["b.md"]
    assert (tmp_path / "a" / "b.md").read_text() == "文字"


def test_the_real_translations_parse_and_render():
    for page in PAGES:
        kind, units = sync_zh.english_units(page)
        assert set(sync_zh.read_source(page)) <= set(units)
        name, text = sync_zh.render(page)
        assert name.startswith(page) and text.endswith("\n")
    assert sync_zh.toc().startswith("# Written by tools/sync_zh.py")


def test_zh_config_keeps_the_english_repository_and_runs_nothing():
    import yaml

    en = yaml.safe_load((ROOT / "_config.yml").read_text())
    zh = yaml.safe_load((ROOT / "zh" / "_config.yml").read_text())
    assert zh["repository"] == {**en["repository"], "path_to_book": "zh"}
    assert zh["language"] == "zh_CN" and zh["sphinx"]["recursive_update"] is True
    assert zh["execute"]["execute_notebooks"] == "off"
    assert zh["launch_buttons"] == en["launch_buttons"]
    assert "language_switch.js" in zh["sphinx"]["config"]["html_js_files"]


def test_soft_line_breaks_between_chinese_characters_are_joined():
    """A browser shows a line break inside a paragraph as a space: between two Chinese
    characters, a stray gap. Paragraphs, list items, directives and code keep their lines."""
    text = ("第一行文字\n第二行。\n\n- 列表项\n  续行\n\n```python\n# 注释\n# 第二\n```\n"
            "后文\n继续\n```{admonition} 解答\n:class: dropdown\n答案在\n这里\n```\n又一\n段\n"
            "English\n中文")
    assert sync_zh.join_cjk_lines(text) == (
        "第一行文字第二行。\n\n- 列表项续行\n\n```python\n# 注释\n# 第二\n```\n后文继续\n"
        "```{admonition} 解答\n:class: dropdown\n答案在这里\n```\n又一段\nEnglish\n中文")


@pytest.mark.parametrize("page", PAGES)
def test_zh_page_prose_has_no_break_between_chinese_characters(page):
    name, content = sync_zh.render(page)
    texts = ([content] if name.endswith(".md") else
             ["".join(c["source"]) for c in json.loads(content)["cells"]
              if c["cell_type"] == "markdown"])
    for text in texts:
        lines = text.split("\n")
        code = sync_zh._code_lines(lines)
        for k in range(1, len(lines)):
            assert code[k - 1] or code[k] or not (
                sync_zh.ENDS_CJK.search(lines[k - 1]) and sync_zh.STARTS_CJK.match(lines[k])), \
                f"{page}: a line break between Chinese characters: {lines[k - 1][-20:]!r}"
