"""Traffic lights (红黄绿灯) for milestones and assignments (DESIGN.md §4).

The rules live in taskflow.measures.milestones (one definition); this module re-exports them for
the assignments area:

green  closed, or on track
yellow open and due within LIGHT_YELLOW_WORKING_DAYS working days (方案未规定，默认值 5，可调整),
       or a submission was returned to the unit
red    open and overdue: the due date in force has passed; a report waiting for review does not
       change that
grey   nothing due (no milestones)
"""

from taskflow.measures.milestones import (  # noqa: F401  (re-exported)
    GREEN,
    GREY,
    RED,
    YELLOW,
    LightFacts,
    assignment_light,
    milestone_light,
    worst,
    yellow_cutoff,
)
