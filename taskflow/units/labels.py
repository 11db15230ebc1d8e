"""Display labels of the units area: peer groups (the only label mapping; translated)."""

from flask_babel import lazy_gettext as _l

from taskflow.units.models import PeerGroup

# The district plan's groups in the plan's words (区级部门, 街镇, 园区及产业链专班); the city
# plan's regional groups have no label of their own and show their code.
PEER_GROUP_LABELS = {
    PeerGroup.DEPARTMENT: _l("District departments"),
    PeerGroup.STREET_TOWN: _l("Streets and towns"),
    PeerGroup.PARK_TASK_FORCE: _l("Parks and industry-chain task forces"),
    PeerGroup.EXTERNAL: _l("Other bodies"),
}


def peer_group_label(group: str) -> str:
    """A peer group's label (its code when it has none)."""
    return str(PEER_GROUP_LABELS.get(group, group))
