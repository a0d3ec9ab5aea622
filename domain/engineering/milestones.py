"""Milestones and iterations as GitHub and GitLab describe them, read into `MilestoneRecord`s: the sprints of
velocity (`domain.engineering.velocity`). A GitLab issue in an iteration counts in the iteration, not in its
milestone: teams that plan with iterations keep milestones for releases."""
from __future__ import annotations

from typing import Any

from domain.engineering.records import MilestoneRecord, moment, obj, text, whole

ITERATION_PREFIX = "iteration-"  # an iteration's external id, apart from the milestones' numeric ids
GITLAB_ITERATION_CLOSED = 3  # GitLab's iteration states: 1 upcoming, 2 current, 3 closed


def github_milestone(item: Any) -> MilestoneRecord:
    """A milestone as GitHub's issues and `milestone` hooks give it: no start date, so its creation stands in."""
    milestone = obj(item, "milestone")
    return MilestoneRecord(str(whole(milestone.get("id"))), text(milestone.get("title"), "milestone.title"),
                           "open" if milestone.get("state") == "open" else "closed", moment(milestone.get("due_on")),
                           opened_at=moment(milestone.get("created_at")))


def gitlab_milestone(item: Any) -> MilestoneRecord:
    milestone = obj(item, "milestone")
    return MilestoneRecord(str(whole(milestone.get("id"))), text(milestone.get("title"), "milestone.title"),
                           "open" if milestone.get("state") == "active" else "closed",
                           moment(milestone.get("due_date")), moment(milestone.get("start_date")),
                           moment(milestone.get("created_at")))


def gitlab_iteration(item: Any) -> MilestoneRecord:
    """An iteration (GitLab Premium): automatic cadences leave its title empty, so it is named by its number."""
    iteration = obj(item, "iteration")
    title = (text(iteration.get("title"), "iteration.title", required=False)
             or f"Iteration {whole(iteration.get('iid'))}")
    state = iteration.get("state")
    return MilestoneRecord(f"{ITERATION_PREFIX}{whole(iteration.get('id'))}", title,
                           "closed" if state in (GITLAB_ITERATION_CLOSED, "closed") else "open",
                           moment(iteration.get("due_date")), moment(iteration.get("start_date")),
                           moment(iteration.get("created_at")))


def gitlab_sprint(issue: dict[str, Any]) -> MilestoneRecord | None:
    """The sprint of an issue from GitLab's issues list: its iteration, else its milestone."""
    if issue.get("iteration") is not None:
        return gitlab_iteration(issue["iteration"])
    return gitlab_milestone(issue["milestone"]) if issue.get("milestone") is not None else None


def gitlab_hook_sprint(attributes: dict[str, Any]) -> MilestoneRecord | None:
    """An issue hook names its iteration or milestone by id only: the title and dates come with the next poll."""
    for key, prefix in (("iteration_id", ITERATION_PREFIX), ("milestone_id", "")):
        if attributes.get(key) is not None:
            return MilestoneRecord(f"{prefix}{whole(attributes[key])}")
    return None
