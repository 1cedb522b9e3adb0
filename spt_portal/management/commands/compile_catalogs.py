"""Compile the .po catalogs into .mo files without GNU gettext (polib), and check them.

Django's `compilemessages` needs GNU gettext's msgfmt; `make test` must not, so the
compiled catalogs are committed and this command (run by `make messages`) writes them.
`--check` exits non-zero when a catalog has untranslated or fuzzy entries, or when a
committed .mo file does not match its .po source.
"""

from pathlib import Path

import polib
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


def catalogs() -> list[Path]:
    found = []
    for locale_dir in settings.LOCALE_PATHS:
        found.extend(sorted(Path(locale_dir).glob("*/LC_MESSAGES/*.po")))
    return found


def problems_of(po_path: Path) -> list[str]:
    """Everything wrong with one catalog: untranslated, fuzzy, or a stale .mo."""
    po = polib.pofile(str(po_path))
    problems = [f"untranslated: {e.msgid!r}" for e in po.untranslated_entries()]
    problems += [f"fuzzy: {e.msgid!r}" for e in po.fuzzy_entries()]
    mo_path = po_path.with_suffix(".mo")
    if not mo_path.exists():
        return [*problems, f"missing compiled catalog {mo_path}"]
    compiled = {
        (e.msgctxt, e.msgid): (e.msgstr, e.msgstr_plural) for e in polib.mofile(str(mo_path))
    }
    source = {
        (e.msgctxt, e.msgid): (e.msgstr, e.msgstr_plural)
        for e in po.translated_entries()
        if not e.obsolete
    }
    if {k: v for k, v in compiled.items() if k[1]} != source:
        problems.append(f"{mo_path.name} does not match {po_path.name}: run `make messages`")
    return problems


class Command(BaseCommand):
    help = "Compile locale/*/LC_MESSAGES/*.po into .mo with polib (no GNU gettext needed)."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="only check, write nothing")

    def handle(self, *args, check, **options):
        failures = []
        for po_path in catalogs():
            if check:
                failures += [f"{po_path}: {p}" for p in problems_of(po_path)]
                continue
            polib.pofile(str(po_path)).save_as_mofile(str(po_path.with_suffix(".mo")))
            self.stdout.write(f"compiled {po_path.with_suffix('.mo')}")
        if failures:
            raise CommandError("\n".join(failures))
