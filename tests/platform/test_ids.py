"""`models.db.reserve_ids`: primary keys taken before the rows that use them are inserted (a batch of new
developers and their identities, built in memory, then inserted together); `id_list`: ids written into a
statement, integers only."""
from __future__ import annotations

import pytest

from models.db import db, id_list, reserve_ids
from models.organization import Organization


def test_reserved_ids_are_new_distinct_and_not_handed_out_again(schema: None) -> None:
    with db.connection_context(), db.atomic():
        first = Organization.create(name="first").id
        ids = reserve_ids(Organization, 3)
        assert len(set(ids)) == 3 and min(ids) > first
        Organization.insert_many([{"id": i, "name": f"reserved {i}"} for i in ids]).execute()
        after = Organization.create(name="after").id  # an ordinary insert does not collide with them
        assert after not in ids and after > first
        assert reserve_ids(Organization, 0) == []
        assert not set(reserve_ids(Organization, 2)) & {first, after, *ids}
    with db.connection_context():
        assert Organization.select().count() == 5


def test_an_id_list_selects_those_rows_and_takes_integers_only(schema: None) -> None:
    with db.connection_context():
        ids = [Organization.create(name=f"org {n}").id for n in range(3)]
        chosen = Organization.select().where(Organization.id << id_list(ids[1:])).order_by(Organization.id)
        assert [o.id for o in chosen] == ids[1:]
        assert Organization.select().where(Organization.id << id_list([])).count() == 0
    with pytest.raises(ValueError):
        id_list(["1) OR (1=1"])  # type: ignore[list-item]
