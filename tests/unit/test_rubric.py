"""Rubric scoring, brief content rules, and the brief's draft/published/archived life."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest

from app.domain.briefs import Brief, BriefStatus, Criterion, CriterionScore, Rubric, RubricLevel
from app.domain.errors import Conflict, InvalidInput
from app.domain.skills import Skill, SkillLevel

# Unequal weights and unequal maximum scores; total weight 6.
#   accuracy: weight 3, levels 0/1/2     -> max 2
#   clarity:  weight 1, levels 4/0       -> max 4 (levels listed out of order on purpose)
#   impact:   weight 2, levels 0/1/2/3/5 -> max 5
RUBRIC = Rubric(
    criteria=(
        Criterion("accuracy", "Accuracy", 3, (RubricLevel(0, "Wrong"), RubricLevel(1, "Partly"), RubricLevel(2, "Right"))),
        Criterion("clarity", "Clarity", 1, (RubricLevel(4, "Clear"), RubricLevel(0, "Unclear"))),
        Criterion("impact", "Impact", 2, tuple(RubricLevel(s, f"L{s}") for s in (0, 1, 2, 3, 5))),
    ),
    pass_score=60,
)


def scores(**by_key: int) -> list[CriterionScore]:
    return [CriterionScore(key, value) for key, value in by_key.items()]


def problems(error: InvalidInput) -> list[tuple[tuple, str]]:
    return [(p.loc, p.type) for p in error.problems]


# -- Rubric.score ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        # (3 * 1/2 + 1 * 4/4 + 2 * 3/5) / 6 * 100 = (1.5 + 1 + 1.2) / 6 * 100 = 61.666…
        (dict(accuracy=1, clarity=4, impact=3), 3.7 / 6 * 100),
        # (3 * 2/2 + 1 * 0/4 + 2 * 5/5) / 6 * 100 = 5 / 6 * 100 = 83.333…
        (dict(accuracy=2, clarity=0, impact=5), 5 / 6 * 100),
        # full marks on the weight-3 criterion only: 3 / 6 * 100
        (dict(accuracy=2, clarity=0, impact=0), 50.0),
        # full marks on the weight-1 criterion only: 1 / 6 * 100
        (dict(accuracy=0, clarity=4, impact=0), 100 / 6),
        # impact 2 of 5 on weight 2: 0.8 / 6 * 100
        (dict(accuracy=0, clarity=0, impact=2), 0.8 / 6 * 100),
        (dict(accuracy=2, clarity=4, impact=5), 100.0),
        (dict(accuracy=0, clarity=0, impact=0), 0.0),
    ],
    ids=["mixed", "high", "heavy-only", "light-only", "partial-impact", "all-max", "all-zero"],
)
def test_score_is_weighted_share_of_each_criterion_max_on_0_to_100(given: dict[str, int], expected: float) -> None:
    assert RUBRIC.score(scores(**given)) == pytest.approx(expected, abs=0.005)


def test_score_does_not_depend_on_the_order_criteria_are_given_in() -> None:
    assert RUBRIC.score(scores(impact=3, clarity=4, accuracy=1)) == RUBRIC.score(scores(accuracy=1, clarity=4, impact=3))


def refused(given: list[CriterionScore]) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        RUBRIC.score(given)
    assert caught.value.code == "review.invalid_scores"
    return caught.value


def test_a_missing_criterion_is_refused() -> None:
    error = refused(scores(accuracy=1, clarity=4))
    assert problems(error) == [(("scores",), "missing_criterion")]
    assert "impact" in error.problems[0].msg


def test_no_scores_at_all_names_every_criterion_missing() -> None:
    error = refused([])
    assert problems(error) == [(("scores",), "missing_criterion")]
    assert all(key in error.problems[0].msg for key in ("accuracy", "clarity", "impact"))


def test_a_criterion_scored_twice_is_refused() -> None:
    error = refused(scores(accuracy=1, clarity=4, impact=3) + scores(accuracy=2))
    assert problems(error) == [(("scores", 3, "criterion"), "duplicate")]


def test_an_unknown_criterion_is_refused() -> None:
    error = refused(scores(accuracy=1, clarity=4, impact=3, speed=1))
    assert problems(error) == [(("scores", 3, "criterion"), "unknown_criterion")]


@pytest.mark.parametrize(
    ("given", "bad_index"),
    [
        (dict(accuracy=3, clarity=4, impact=3), 0),  # above the max level
        (dict(accuracy=1, clarity=2, impact=3), 1),  # between levels 0 and 4
        (dict(accuracy=1, clarity=4, impact=4), 2),  # between levels 3 and 5
        (dict(accuracy=-1, clarity=4, impact=3), 0),  # below every level
    ],
    ids=["above-max", "between-0-and-4", "between-3-and-5", "negative"],
)
def test_a_score_that_is_not_one_of_the_levels_is_refused(given: dict[str, int], bad_index: int) -> None:
    error = refused(scores(**given))
    assert problems(error) == [(("scores", bad_index, "score"), "invalid_score")]


def test_every_problem_is_listed_at_once() -> None:
    error = refused([CriterionScore("speed", 1), CriterionScore("accuracy", 7), CriterionScore("accuracy", 1)])
    assert sorted(problems(error)) == sorted([
        (("scores", 0, "criterion"), "unknown_criterion"),
        (("scores", 1, "score"), "invalid_score"),
        (("scores", 2, "criterion"), "duplicate"),
        (("scores",), "missing_criterion"),
    ])


# -- BriefContent.check ----------------------------------------------------------------------


@pytest.fixture
def skill(build: Any) -> Skill:
    return Skill(
        id=uuid4(), tenant_id=uuid4(), key="sql-tuning", name="SQL tuning", description=None, framework=None,
        framework_ref=None, levels=(SkillLevel(1, "Basic"), SkillLevel(2, "Working"), SkillLevel(3, "Expert")),
        version=1, created_at=build.now, updated_at=build.now,
    )


def check_problems(content: Any, skill: Skill | None) -> list[tuple[tuple, str]]:
    with pytest.raises(InvalidInput) as caught:
        content.check(skill)
    return sorted(problems(caught.value))


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"timebox": timedelta(days=30)},
        {"timebox": timedelta(minutes=1)},
        {"late_grace": timedelta(0)},
        {"target_level": 1},
        {"target_level": 3},
    ],
    ids=["defaults", "timebox-30d", "timebox-1min", "no-grace", "lowest-level", "highest-level"],
)
def test_valid_content_passes(build: Any, skill: Skill, overrides: dict[str, Any]) -> None:
    build.content(skill_id=skill.id, **overrides).check(skill)


@pytest.mark.parametrize(
    ("overrides", "loc"),
    [
        ({"timebox": timedelta(0)}, ("timebox",)),
        ({"timebox": -timedelta(hours=1)}, ("timebox",)),
        ({"timebox": timedelta(days=30, seconds=1)}, ("timebox",)),
        ({"late_grace": -timedelta(seconds=1)}, ("late_grace",)),
        ({"target_level": 4}, ("target_level",)),
        ({"target_level": 0}, ("target_level",)),
    ],
    ids=["timebox-0", "timebox-negative", "timebox-over-30d", "late-grace-negative", "level-above", "level-below"],
)
def test_each_rule_is_reported_at_its_field(build: Any, skill: Skill, overrides: dict[str, Any], loc: tuple) -> None:
    content = build.content(skill_id=skill.id, **overrides)
    assert [p[0] for p in check_problems(content, skill)] == [loc]


def test_an_unknown_skill_is_reported(build: Any) -> None:
    assert check_problems(build.content(), None) == [(("skill_id",), "unknown_skill")]


def duplicate_key_rubric(rubric: Rubric) -> Rubric:
    first = rubric.criteria[0]
    return Rubric(criteria=(first, Criterion(first.key, "Again", 1, first.levels)), pass_score=rubric.pass_score)


def test_duplicate_criterion_keys_are_reported(build: Any, skill: Skill) -> None:
    content = build.content(skill_id=skill.id, rubric=duplicate_key_rubric(build.rubric))
    assert check_problems(content, skill) == [(("rubric", "criteria", 1, "key"), "duplicate")]


def test_every_broken_rule_is_listed_at_once(build: Any, skill: Skill) -> None:
    content = build.content(
        skill_id=skill.id, timebox=timedelta(0), late_grace=-timedelta(hours=1), target_level=9,
        rubric=duplicate_key_rubric(build.rubric),
    )
    assert [loc for loc, _ in check_problems(content, skill)] == sorted([
        ("timebox",), ("late_grace",), ("target_level",), ("rubric", "criteria", 1, "key"),
    ])
    assert [loc for loc, _ in check_problems(content, None)] == sorted([
        ("timebox",), ("late_grace",), ("skill_id",), ("rubric", "criteria", 1, "key"),
    ])


# -- Brief: edit, publish, archive --------------------------------------------------------------


@pytest.fixture
def draft(build: Any) -> Brief:
    return Brief(
        id=uuid4(), tenant_id=uuid4(), content=build.content(), status=BriefStatus.DRAFT, revision=1,
        published_revision=None, published=None, version=1, created_at=build.now, updated_at=build.now,
    )


def test_editing_a_draft_changes_it_in_place(build: Any, draft: Brief) -> None:
    edited = build.content(title="Speed up the Q1 report")
    draft.edit(edited)
    assert (draft.content, draft.revision, draft.status) == (edited, 1, BriefStatus.DRAFT)
    assert draft.published is None and draft.published_revision is None


def test_publishing_freezes_the_working_copy(draft: Brief) -> None:
    assert draft.publish() is True
    assert draft.status is BriefStatus.PUBLISHED
    assert (draft.published, draft.published_revision) == (draft.content, 1)
    assert draft.offerable() == draft.content


def test_publishing_twice_changes_nothing_the_second_time(draft: Brief) -> None:
    assert draft.publish() is True
    snapshot = (draft.status, draft.revision, draft.published_revision, draft.published)
    assert draft.publish() is False
    assert (draft.status, draft.revision, draft.published_revision, draft.published) == snapshot


def test_editing_a_published_brief_starts_a_new_revision_and_leaves_the_published_one(build: Any, draft: Brief) -> None:
    original = draft.content
    draft.publish()
    edited = build.content(title="Speed up the Q1 report")

    draft.edit(edited)

    assert draft.revision == 2 and draft.content == edited
    assert draft.published == original and draft.published_revision == 1
    assert draft.status is BriefStatus.PUBLISHED
    assert draft.offerable() == original, "running offers keep getting the published version until it is republished"

    again = build.content(title="Speed up the Q2 report")
    draft.edit(again)
    assert draft.revision == 2, "the unpublished revision is edited in place"

    assert draft.publish() is True
    assert (draft.published, draft.published_revision) == (again, 2)
    assert draft.offerable() == again


def test_an_unpublished_brief_cannot_be_offered(draft: Brief) -> None:
    with pytest.raises(Conflict) as refused:
        draft.offerable()
    assert refused.value.code == "brief.not_published"


@pytest.mark.parametrize("published_first", [False, True], ids=["draft", "published"])
def test_an_archived_brief_refuses_edit_publish_and_offers(build: Any, draft: Brief, published_first: bool) -> None:
    if published_first:
        draft.publish()
    assert draft.archive() is True
    assert draft.status is BriefStatus.ARCHIVED
    content_before = draft.content

    with pytest.raises(Conflict) as on_edit:
        draft.edit(build.content(title="Nope"))
    with pytest.raises(Conflict) as on_publish:
        draft.publish()
    with pytest.raises(Conflict) as on_offer:
        draft.offerable()

    assert (on_edit.value.code, on_publish.value.code, on_offer.value.code) == ("brief.archived",) * 3
    assert draft.content == content_before
    assert draft.archive() is False, "archiving twice changes nothing"
