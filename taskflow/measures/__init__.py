"""Measures: every figure a user sees, defined once, each taking an as-of date.

Pages, exports, bulletins, score rules and jobs call these functions; none recomputes a figure.
docs/measures.md describes each measure in plain words (with the Chinese term), its formula,
its as-of rule and an example.

- milestones.py: completed (办结), open, overdue in working days (逾期), lateness, accepted progress,
  the milestone and assignment lights (红黄绿灯).
- indicators.py: in-library counts (科技型企业在库, 高企有效期内), expected-to-date (序时进度),
  completion rate against it, the indicator lights.
"""

from flask import Blueprint

bp = Blueprint("measures", __name__, url_prefix="/measures")
