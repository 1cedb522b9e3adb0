import polib
import pytest
from django.utils import translation

from spt_portal.management.commands.compile_catalogs import catalogs, problems_of


def test_there_is_a_simplified_chinese_catalog():
    assert any("zh_Hans" in str(path) for path in catalogs())


@pytest.mark.parametrize("po_path", catalogs(), ids=lambda p: p.parts[-3])
def test_catalog_complete_and_compiled(po_path):
    assert problems_of(po_path) == []


def test_check_catches_a_missing_translation(tmp_path):
    po = polib.POFile()
    po.metadata = {"Content-Type": "text/plain; charset=UTF-8"}
    po.append(polib.POEntry(msgid="Hello", msgstr="你好"))
    po.append(polib.POEntry(msgid="Untranslated", msgstr=""))
    fuzzy = polib.POEntry(msgid="Fuzzy", msgstr="模糊")
    fuzzy.flags.append("fuzzy")
    po.append(fuzzy)
    path = tmp_path / "django.po"
    po.save(str(path))
    po.save_as_mofile(str(tmp_path / "django.mo"))
    problems = problems_of(path)
    assert "untranslated: 'Untranslated'" in problems
    assert "fuzzy: 'Fuzzy'" in problems

    # A .mo that lags behind its .po is caught too.
    po[1].msgstr = "未翻译"
    po.save(str(path))
    assert any("does not match" in p for p in problems_of(path))


def test_runtime_translation_uses_the_compiled_catalog():
    with translation.override("zh-hans"):
        assert translation.gettext("Sign in") == "登录"
    with translation.override("en"):
        assert translation.gettext("Sign in") == "Sign in"
