"""Jobs used by the outbox tests (real functions, run through real RQ)."""

from spt_portal.models import Skill


def make_skill(slug: str, name: str = "") -> None:
    Skill.objects.get_or_create(slug=slug, defaults={"name": name or slug})
