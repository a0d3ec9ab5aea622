"""Webhook bodies shaped like the ones GitHub and GitLab document ("Webhook events and payloads" on
docs.github.com, "Webhook events" on docs.gitlab.com), with made-up values. Each builder takes the fields a test
cares about and fills the rest the way the provider would, so a parser that reads a field from the wrong place
fails here as it would in production."""
from __future__ import annotations

from typing import Any

GITHUB_API = "https://api.github.com"
GITHUB_WEB = "https://github.com"
GITLAB_WEB = "https://gitlab.example.com"
ZERO_SHA = "0" * 40


def sha(n: int) -> str:
    """A 40-hex commit sha, distinct per `n`."""
    return f"{n:040x}"


# GitHub ---------------------------------------------------------------------------------------------------

def github_user(login: str = "octocat", user_id: int = 583231, kind: str = "User") -> dict[str, Any]:
    return {
        "login": login, "id": user_id, "node_id": f"MDQ6VXNlcj{user_id}", "type": kind, "site_admin": False,
        "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4",
        "url": f"{GITHUB_API}/users/{login}", "html_url": f"{GITHUB_WEB}/{login}",
    }


def github_repository(full_name: str = "acme/widgets", repo_id: int = 1296269) -> dict[str, Any]:
    owner, name = full_name.split("/")
    return {
        "id": repo_id, "node_id": f"MDEwOlJlcG9zaXRvcnk{repo_id}", "name": name, "full_name": full_name,
        "private": False, "owner": github_user(owner, 9919, "Organization"),
        "html_url": f"{GITHUB_WEB}/{full_name}", "url": f"{GITHUB_API}/repos/{full_name}",
        "clone_url": f"{GITHUB_WEB}/{full_name}.git", "default_branch": "main", "language": "Python",
        "created_at": 1700000000, "pushed_at": 1764494100, "updated_at": "2026-11-30T09:15:05Z",
    }


def github_commit(commit_sha: str, message: str = "Fix the flux capacitor\n\nIt was off by one.",
                  timestamp: str = "2026-11-30T10:15:00+01:00", name: str = "Alice Liddell",
                  email: str = "alice@example.com", username: str | None = "alice",
                  full_name: str = "acme/widgets") -> dict[str, Any]:
    """One entry of a push's `commits`; GitHub adds `username` to an author only when the email belongs to a
    GitHub account."""
    author: dict[str, Any] = {"name": name, "email": email}
    if username is not None:
        author["username"] = username
    return {
        "id": commit_sha, "tree_id": sha(int(commit_sha, 16) + 10_000), "distinct": True, "message": message,
        "timestamp": timestamp, "url": f"{GITHUB_WEB}/{full_name}/commit/{commit_sha}", "author": author,
        "committer": {"name": "GitHub", "email": "noreply@github.com", "username": "web-flow"},
        "added": ["docs/flux.md"], "removed": [], "modified": ["src/flux.py"],
    }


def github_push(commits: list[dict[str, Any]], ref: str = "refs/heads/main", before: str = ZERO_SHA,
                pusher: dict[str, Any] | None = None, full_name: str = "acme/widgets") -> dict[str, Any]:
    after = commits[-1]["id"] if commits else sha(999)
    sender = pusher or github_user("alice", 1001)
    return {
        "ref": ref, "before": before, "after": after, "created": before == ZERO_SHA, "deleted": False,
        "forced": False, "base_ref": None, "compare": f"{GITHUB_WEB}/{full_name}/compare/{before[:12]}...{after[:12]}",
        "commits": commits, "head_commit": commits[-1] if commits else None,
        "repository": github_repository(full_name),
        "pusher": {"name": sender["login"], "email": f"{sender['login']}@example.com"}, "sender": sender,
    }


def github_pull(number: int = 7, state: str = "open", title: str = "Teach the widget to fly",
                user: dict[str, Any] | None = None, created_at: str = "2026-11-30T09:00:00Z",
                updated_at: str = "2026-11-30T09:00:00Z", closed_at: str | None = None,
                merged_at: str | None = None, merged: bool = False, merge_commit_sha: str | None = None,
                head_ref: str = "feature/fly", base_ref: str = "main", additions: int = 120, deletions: int = 30,
                full_name: str = "acme/widgets") -> dict[str, Any]:
    """A `pull_request` object as the `pull_request` event carries it (with the counts)."""
    return {
        "url": f"{GITHUB_API}/repos/{full_name}/pulls/{number}", "id": 1_000_000 + number,
        "node_id": f"PR_kwDOABCD{number}", "html_url": f"{GITHUB_WEB}/{full_name}/pull/{number}",
        "diff_url": f"{GITHUB_WEB}/{full_name}/pull/{number}.diff", "number": number, "state": state,
        "locked": False, "title": title, "user": user or github_user(), "body": "Adds wings.",
        "created_at": created_at, "updated_at": updated_at, "closed_at": closed_at, "merged_at": merged_at,
        "merge_commit_sha": merge_commit_sha, "assignee": None, "requested_reviewers": [], "labels": [],
        "draft": False, "head": {"label": f"acme:{head_ref}", "ref": head_ref, "sha": sha(number + 500)},
        "base": {"label": f"acme:{base_ref}", "ref": base_ref, "sha": sha(number + 600)},
        "author_association": "MEMBER", "merged": merged, "mergeable": None, "comments": 0,
        "review_comments": 0, "commits": 3, "additions": additions, "deletions": deletions, "changed_files": 4,
    }


def github_pull_request_event(pull: dict[str, Any], action: str = "opened",
                              sender: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"action": action, "number": pull["number"], "pull_request": pull,
            "repository": github_repository(), "sender": sender or pull["user"]}


def github_review_event(pull: dict[str, Any], review_id: int = 80, state: str = "approved",
                        reviewer: dict[str, Any] | None = None,
                        submitted_at: str = "2026-11-30T11:30:00Z") -> dict[str, Any]:
    """`pull_request_review` (action `submitted`); its `pull_request` is the short form, without the merged flag
    and the counts, as GitHub sends it."""
    reviewer = reviewer or github_user("hubot", 2002)
    short = {k: v for k, v in pull.items()
             if k not in ("merged", "mergeable", "comments", "review_comments", "commits", "additions", "deletions",
                          "changed_files")}
    review = {
        "id": review_id, "node_id": f"PRR_kwDOABCD{review_id}", "user": reviewer, "body": "Looks good to me.",
        "commit_id": pull["head"]["sha"], "submitted_at": submitted_at, "state": state,
        "html_url": f"{pull['html_url']}#pullrequestreview-{review_id}", "author_association": "MEMBER",
        "pull_request_url": pull["url"],
    }
    return {"action": "submitted", "review": review, "pull_request": short, "repository": github_repository(),
            "sender": reviewer}


def github_review_comment(pull: dict[str, Any], comment_id: int, author: dict[str, Any], created_at: str,
                          review_id: int | None = 80) -> dict[str, Any]:
    """A pull request review comment (a comment on the diff) as GitHub's API and hooks write it."""
    return {
        "url": f"{pull['url'].rsplit('/pulls/', 1)[0]}/pulls/comments/{comment_id}",
        "pull_request_review_id": review_id, "id": comment_id, "node_id": f"PRRC_kwDOABCD{comment_id}",
        "diff_hunk": "@@ -16,33 +16,40 @@ public class Connection : IConnection...", "path": "widget/fly.py",
        "position": 1, "original_position": 4, "commit_id": pull["head"]["sha"],
        "original_commit_id": pull["head"]["sha"], "user": author, "body": "Great stuff!",
        "created_at": created_at, "updated_at": created_at,
        "html_url": f"{pull['html_url']}#discussion_r{comment_id}", "pull_request_url": pull["url"],
        "author_association": "MEMBER",
        "_links": {"self": {"href": f"{pull['url'].rsplit('/pulls/', 1)[0]}/pulls/comments/{comment_id}"},
                   "html": {"href": f"{pull['html_url']}#discussion_r{comment_id}"},
                   "pull_request": {"href": pull["url"]}},
        "start_line": None, "original_start_line": None, "start_side": None, "line": 2, "original_line": 2,
        "side": "RIGHT", "subject_type": "line",
    }


def github_review_comment_event(pull: dict[str, Any], comment_id: int = 90, action: str = "created",
                                author: dict[str, Any] | None = None,
                                created_at: str = "2026-11-30T11:20:00Z") -> dict[str, Any]:
    """`pull_request_review_comment` (actions created, edited, deleted), with the short form of its pull request."""
    author = author or github_user("hubot", 2002)
    short = {k: v for k, v in pull.items()
             if k not in ("merged", "mergeable", "comments", "review_comments", "commits", "additions", "deletions",
                          "changed_files")}
    return {"action": action, "comment": github_review_comment(pull, comment_id, author, created_at),
            "pull_request": short, "repository": github_repository(), "sender": author}


def github_ping(hook_id: int = 4242) -> dict[str, Any]:
    return {
        "zen": "Keep it logically awesome.", "hook_id": hook_id,
        "hook": {"type": "Repository", "id": hook_id, "name": "web", "active": True,
                 "events": ["push", "pull_request", "pull_request_review"],
                 "config": {"content_type": "json", "insecure_ssl": "0", "url": "https://conveyor.example/hooks"}},
        "repository": github_repository(), "sender": github_user("alice", 1001),
    }


# GitLab ---------------------------------------------------------------------------------------------------

def gitlab_user(user_id: int = 51, username: str = "root", name: str = "Administrator",
                email: str = "[REDACTED]") -> dict[str, Any]:
    """The `user` of a hook; GitLab sends the email as "[REDACTED]" unless the user made it public."""
    return {"id": user_id, "name": name, "username": username, "email": email,
            "avatar_url": f"https://www.gravatar.com/avatar/{user_id:032x}?s=80&d=identicon"}


def gitlab_project(project_id: int = 15, path: str = "acme/widgets") -> dict[str, Any]:
    namespace, name = path.split("/")
    return {
        "id": project_id, "name": name, "description": "Widgets that fly", "web_url": f"{GITLAB_WEB}/{path}",
        "avatar_url": None, "git_ssh_url": f"git@gitlab.example.com:{path}.git",
        "git_http_url": f"{GITLAB_WEB}/{path}.git", "namespace": namespace, "visibility_level": 0,
        "path_with_namespace": path, "default_branch": "main", "ci_config_path": None,
        "homepage": f"{GITLAB_WEB}/{path}", "url": f"git@gitlab.example.com:{path}.git",
        "ssh_url": f"git@gitlab.example.com:{path}.git", "http_url": f"{GITLAB_WEB}/{path}.git",
    }


def gitlab_repository(path: str = "acme/widgets") -> dict[str, Any]:
    return {"name": path.split("/")[1], "url": f"git@gitlab.example.com:{path}.git", "description": "Widgets",
            "homepage": f"{GITLAB_WEB}/{path}", "git_http_url": f"{GITLAB_WEB}/{path}.git",
            "git_ssh_url": f"git@gitlab.example.com:{path}.git", "visibility_level": 0}


def gitlab_commit(commit_sha: str, message: str = "Fix the flux capacitor\n\nIt was off by one.\n",
                  timestamp: str = "2026-11-30T10:15:00+01:00", name: str = "Alice Liddell",
                  email: str = "alice@example.com", path: str = "acme/widgets") -> dict[str, Any]:
    return {
        "id": commit_sha, "message": message, "title": message.splitlines()[0], "timestamp": timestamp,
        "url": f"{GITLAB_WEB}/{path}/-/commit/{commit_sha}", "author": {"name": name, "email": email},
        "added": ["docs/flux.md"], "modified": ["src/flux.py"], "removed": [],
    }


def gitlab_push(commits: list[dict[str, Any]], user: dict[str, Any] | None = None, ref: str = "refs/heads/main",
                before: str = ZERO_SHA, project_id: int = 15) -> dict[str, Any]:
    user = user or gitlab_user()
    after = commits[-1]["id"] if commits else sha(999)
    return {
        "object_kind": "push", "event_name": "push", "before": before, "after": after, "ref": ref,
        "ref_protected": True, "checkout_sha": after, "message": None, "user_id": user["id"],
        "user_name": user["name"], "user_username": user["username"], "user_email": "",
        "user_avatar": user["avatar_url"], "project_id": project_id, "project": gitlab_project(project_id),
        "commits": commits, "total_commits_count": len(commits), "push_options": {},
        "repository": gitlab_repository(),
    }


def gitlab_merge_request_attributes(iid: int = 3, state: str = "opened", action: str | None = "open",
                                    author_id: int = 51, title: str = "Teach the widget to fly",
                                    created_at: str = "2026-11-30T09:00:00Z",
                                    updated_at: str = "2026-11-30T09:00:00Z",
                                    merge_commit_sha: str | None = None, last_commit_sha: str | None = None,
                                    project_id: int = 15) -> dict[str, Any]:
    """A merge request as `object_attributes` of a Merge Request Hook (and `merge_request` of a Note Hook)."""
    last = last_commit_sha or sha(iid + 700)
    attributes: dict[str, Any] = {
        "id": 99_000 + iid, "iid": iid, "target_branch": "main", "source_branch": "feature/fly",
        "source_project_id": project_id, "target_project_id": project_id, "author_id": author_id,
        "assignee_id": None, "assignee_ids": [], "reviewer_ids": [], "title": title, "description": "Adds wings.",
        "created_at": created_at, "updated_at": updated_at, "last_edited_at": None, "milestone_id": None,
        "state": state, "state_id": {"opened": 1, "closed": 2, "merged": 3, "locked": 4}.get(state, 1),
        "merge_status": "can_be_merged" if state != "merged" else "merged",
        "detailed_merge_status": "mergeable", "merge_commit_sha": merge_commit_sha, "draft": False,
        "work_in_progress": False, "url": f"{GITLAB_WEB}/acme/widgets/-/merge_requests/{iid}",
        "source": gitlab_project(project_id), "target": gitlab_project(project_id),
        "last_commit": {"id": last, "message": "Add wings\n", "title": "Add wings",
                        "timestamp": "2026-11-30T09:45:00+01:00", "url": f"{GITLAB_WEB}/acme/widgets/-/commit/{last}",
                        "author": {"name": "Alice Liddell", "email": "alice@example.com"}},
        "head_pipeline_id": None, "time_estimate": 0, "total_time_spent": 0, "labels": [],
    }
    if action is not None:
        attributes["action"] = action
    return attributes


def gitlab_merge_request(attributes: dict[str, Any], user: dict[str, Any] | None = None) -> dict[str, Any]:
    """A Merge Request Hook: `user` is who acted (opened, merged, approved ...), not necessarily the author."""
    return {
        "object_kind": "merge_request", "event_type": "merge_request", "user": user or gitlab_user(),
        "project": gitlab_project(attributes["target_project_id"]), "object_attributes": attributes,
        "labels": [], "changes": {"updated_at": {"previous": attributes["created_at"],
                                                 "current": attributes["updated_at"]}},
        "repository": gitlab_repository(),
    }


def gitlab_note_on_merge_request(merge_request: dict[str, Any], note_id: int = 1244,
                                 user: dict[str, Any] | None = None, note: str = "This MR needs work.",
                                 created_at: str = "2026-11-30 12:00:00 UTC") -> dict[str, Any]:
    user = user or gitlab_user(52, "reviewer", "Rita Reviewer")
    project_id = merge_request["target_project_id"]
    return {
        "object_kind": "note", "event_type": "note", "user": user, "project_id": project_id,
        "project": gitlab_project(project_id), "repository": gitlab_repository(),
        "object_attributes": {
            "id": note_id, "note": note, "noteable_type": "MergeRequest", "author_id": user["id"],
            "created_at": created_at, "updated_at": created_at, "project_id": project_id, "attachment": None,
            "line_code": None, "commit_id": "", "noteable_id": merge_request["id"], "system": False,
            "st_diff": None, "action": "create",
            "url": f"{merge_request['url']}#note_{note_id}",
        },
        "merge_request": merge_request,
    }


def gitlab_note_on_issue(note_id: int = 1245, user: dict[str, Any] | None = None) -> dict[str, Any]:
    user = user or gitlab_user(52, "reviewer", "Rita Reviewer")
    issue = {"id": 92, "iid": 23, "title": "Widgets fall down", "state": "opened", "author_id": 51,
             "created_at": "2026-11-29 08:00:00 UTC", "updated_at": "2026-11-30 12:00:00 UTC",
             "url": f"{GITLAB_WEB}/acme/widgets/-/issues/23"}
    return {
        "object_kind": "note", "event_type": "note", "user": user, "project_id": 15, "project": gitlab_project(),
        "repository": gitlab_repository(),
        "object_attributes": {"id": note_id, "note": "Same here.", "noteable_type": "Issue", "author_id": user["id"],
                              "created_at": "2026-11-30 12:00:00 UTC", "updated_at": "2026-11-30 12:00:00 UTC",
                              "noteable_id": issue["id"], "system": False,
                              "url": f"{issue['url']}#note_{note_id}"},
        "issue": issue,
    }
