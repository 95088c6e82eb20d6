"""A deterministic left-to-right layout of a workflow definition as a state diagram, in pixels
with the origin top-left: drawn as SVG on a web page, written as BPMN diagram interchange.

Columns are the breadth-first distance from the initial state, stacked in definition order.
Forward edges run from the right side of a box to the left side of one in the next column;
between neighbours in a column, straight up or down. Every other edge runs through a lane of
its own below all boxes (through a channel beside the column from a box that is not the
lowest in it). A self-loop is a small loop above its box.
"""
from __future__ import annotations

import dataclasses
import math
import unicodedata
from collections import deque
from dataclasses import dataclass

from engine.workflow import rules
from engine.workflow.definitions import Definition, TransitionSpec

Point = tuple[float, float]
Rect = tuple[float, float, float, float]

MARGIN = 24.0
STATE_FONT, NAME_FONT, EDGE_FONT = 14.0, 11.0, 12.0
MIN_WIDTH, BOX_HEIGHT, BOX_PADDING = 110.0, 48.0, 16.0
ROW_GAP = 72.0  # room between stacked boxes for the loops of the lower one, or edges between them
MIN_GAP = 72.0
LABEL_HEIGHT, LABEL_PADDING = 16.0, 6.0
CHANNEL, CHANNEL_STEP = 12.0, 8.0
LANE_FIRST, LANE_STEP = 30.0, 26.0  # lanes further apart than a label is tall
LOOP_WIDTH, LOOP_HEIGHT, LOOP_STEP = 24.0, 24.0, 20.0
START_ROOM = 40.0  # left of the initial state, for the start marker drawn into it


@dataclass(frozen=True)
class Box:
    """A state, drawn as a box."""

    name: str
    label: str
    x: float
    y: float
    width: float
    height: float
    final: bool
    initial: bool

    @property
    def right(self) -> float:
        return self.x + self.width

    @property
    def bottom(self) -> float:
        return self.y + self.height

    @property
    def center(self) -> Point:
        return (self.x + self.width / 2, self.y + self.height / 2)

    def on_border(self, point: Point, tol: float = 0.01) -> bool:
        """Whether ``point`` lies on the outline of the box."""
        x, y = point
        on_side = min(abs(x - self.x), abs(x - self.right)) <= tol and self.y - tol <= y <= self.bottom + tol
        return on_side or (min(abs(y - self.y), abs(y - self.bottom)) <= tol and self.x - tol <= x <= self.right + tol)


@dataclass(frozen=True)
class Edge:
    """One transition from one source state; a transition with several sources gives several edges."""

    trigger: str
    label: str
    source: str
    dest: str
    points: tuple[Point, ...]
    label_x: float  # the centre of the label
    label_y: float
    loop: bool
    back: bool
    label_width: float = 0.0
    label_height: float = LABEL_HEIGHT


@dataclass(frozen=True)
class Layout:
    boxes: dict[str, Box]
    edges: tuple[Edge, ...]
    width: float
    height: float


def text_width(text: str, size: float) -> float:
    """Estimated width of ``text`` at ``size`` px: CJK characters are square, the rest narrower."""
    return sum(size if unicodedata.east_asian_width(ch) in "WF" else size * 0.6 for ch in text)


def edge_label(spec: TransitionSpec, english: bool = False) -> str:
    """A transition's label with who may fire it, e.g. ``审签（分管领导，会签）``."""
    if english:
        who = list(spec.roles) + (["countersign"] if spec.countersign else [])
        return f"{spec.label_en or spec.trigger} ({', '.join(who)})"
    who = [rules.ROLES.get(role, role) for role in spec.roles] + (["会签"] if spec.countersign else [])
    return f"{spec.label}（{'，'.join(who)}）"


def columns(definition: Definition) -> dict[str, int]:
    """Breadth-first distance of each state from the initial one; unreachable states go last."""
    found = {definition.initial: 0}
    queue = deque([definition.initial])
    while queue:
        state = queue.popleft()
        for spec in definition.triggers_from(state):
            if spec.dest not in found:
                found[spec.dest] = found[state] + 1
                queue.append(spec.dest)
    last = max(found.values()) + 1
    return {name: found.get(name, last) for name in definition.states}


@dataclass
class _Route:
    """An edge while it is being laid out."""

    trigger: str
    source: str
    dest: str
    kind: str  # "forward", "vertical", "lane" or "loop"
    label: str
    width: float  # of the label, with a little padding for its background
    back: bool
    lane: int = -1
    start: Point = (0.0, 0.0)  # side ports, where it has them
    end: Point = (0.0, 0.0)
    exit: list[Point] = dataclasses.field(default_factory=list)  # lanes: from the source down to the lane
    entry: list[Point] = dataclasses.field(default_factory=list)  # and from the lane up to the dest
    points: list[Point] = dataclasses.field(default_factory=list)
    label_at: Point = (0.0, 0.0)  # where the label would be, before _place_labels nudges it


@dataclass
class _Grid:
    column: dict[str, int]
    row: dict[str, int]
    boxes: dict[str, Box] = dataclasses.field(default_factory=dict)

    def lowest(self, name: str) -> bool:
        return not any(c == self.column[name] and self.row[o] > self.row[name] for o, c in self.column.items())

    def lane_y(self, route: _Route) -> float:
        return max(b.bottom for b in self.boxes.values()) + LANE_FIRST + route.lane * LANE_STEP


def layout(definition: Definition, *, english: bool = False) -> Layout:
    """Lay ``definition`` out left to right; the same definition always gives the same numbers."""
    column = columns(definition)
    row: dict[str, int] = {}
    for name in definition.states:
        row[name] = sum(1 for other in row if column[other] == column[name])
    grid = _Grid(column, row)
    routes = _routes(definition, grid, english)
    grid.boxes = _place(definition, grid, routes, english)
    _route_sides(routes, grid)
    _route_verticals(routes, grid)
    _route_lanes([r for r in routes if r.kind == "lane"], grid)
    _route_loops(routes, grid.boxes)
    _place_labels(routes, grid.boxes)
    return _fit(routes, grid.boxes, definition.initial)


def _routes(definition: Definition, grid: _Grid, english: bool) -> list[_Route]:
    routes = []
    col, row = grid.column, grid.row
    for spec in definition.transitions:
        for source in spec.sources:
            dest, label = spec.dest, edge_label(spec, english)
            kind = ("loop" if source == dest else "forward" if col[dest] > col[source]
                    else "vertical" if col[dest] == col[source] and abs(row[dest] - row[source]) == 1 else "lane")
            width = math.ceil(text_width(label, EDGE_FONT) + LABEL_PADDING)
            routes.append(_Route(spec.trigger, source, dest, kind, label, width, col[dest] < col[source]))
    # Shorter lanes nearer the boxes, so lanes nest instead of crossing.
    lanes = sorted((r for r in routes if r.kind == "lane"), key=lambda r: abs(col[r.source] - col[r.dest]))
    for index, route in enumerate(lanes):
        route.lane = index
    return routes


def _place(definition: Definition, grid: _Grid, routes: list[_Route], english: bool) -> dict[str, Box]:
    """Boxes centred in their columns; gaps wide enough for forward labels and channels."""
    labels = {name: (s.label_en or s.label) if english else s.label for name, s in definition.states.items()}
    widths = {name: math.ceil(max(MIN_WIDTH, text_width(labels[name], STATE_FONT) + 2 * BOX_PADDING,
                                  text_width(name, NAME_FONT) + 2 * BOX_PADDING)) for name in labels}
    col = grid.column
    count = max(col.values()) + 1
    col_width = [max((widths[n] for n in labels if col[n] == c), default=MIN_WIDTH) for c in range(count)]
    lanes = [r for r in routes if r.kind == "lane"]
    outs = [sum(1 for r in lanes if col[r.source] == c and not grid.lowest(r.source)) for c in range(count)]
    ins = [sum(1 for r in lanes if col[r.dest] == c and not grid.lowest(r.dest)) for c in range(count)]
    col_x = [0.0]
    for c in range(count - 1):
        label = max((r.width for r in routes if r.kind == "forward" and col[r.source] == c), default=0.0)
        room = CHANNEL + max(outs[c], ins[c + 1]) * CHANNEL_STEP if outs[c] or ins[c + 1] else 0.0
        col_x.append(col_x[c] + col_width[c] + math.ceil(max(MIN_GAP, label + 2 * LABEL_PADDING + 12) + 2 * room))
    return {
        name: Box(name, labels[name], col_x[col[name]] + (col_width[col[name]] - widths[name]) / 2,
                  grid.row[name] * (BOX_HEIGHT + ROW_GAP), widths[name], BOX_HEIGHT,
                  definition.states[name].final, name == definition.initial)
        for name in labels
    }


def _spread(start: float, length: float, count: int) -> list[float]:
    return [start + length * (i + 1) / (count + 1) for i in range(count)]


def _route_sides(routes: list[_Route], grid: _Grid) -> None:
    """Forward edges out on the right, in on the left; below them lanes of boxes not lowest in their column."""
    for name, box in grid.boxes.items():
        for outgoing in (True, False):
            mine = [r for r in routes if (r.source if outgoing else r.dest) == name]
            forward = sorted((r for r in mine if r.kind == "forward"),
                             key=lambda r: grid.row[r.dest if outgoing else r.source])
            lanes = [] if grid.lowest(name) else sorted((r for r in mine if r.kind == "lane"), key=lambda r: -r.lane)
            for route, y in zip(forward + lanes, _spread(box.y, box.height, len(forward) + len(lanes))):
                setattr(route, "start" if outgoing else "end", (box.right if outgoing else box.x, y))
    for route in (r for r in routes if r.kind == "forward"):
        (x1, y1), (x2, y2) = route.points = [route.start, route.end]
        route.label_at = ((x1 + x2) / 2, (y1 + y2) / 2 - LABEL_HEIGHT / 2 - 1)  # above: the line stays whole


def _route_verticals(routes: list[_Route], grid: _Grid) -> None:
    """Straight up or down between neighbours in a column, right of centre (loops sit at the centre)."""
    pairs: dict[tuple[str, str], list[_Route]] = {}
    for route in (r for r in routes if r.kind == "vertical"):
        pairs.setdefault(tuple(sorted((route.source, route.dest), key=grid.row.__getitem__)), []).append(route)
    for (upper, lower), group in pairs.items():
        top, low = grid.boxes[upper], grid.boxes[lower]
        xs = _spread(top.center[0] + 18, min(top.width, low.width) / 2 - 24, len(group))
        for i, (route, x) in enumerate(zip(group, xs)):
            down = [(x, top.bottom), (x, low.y)]
            route.points = down if route.source == upper else down[::-1]
            # Labels beside the bundle, the first half on its left, so they don't cross its lines.
            beside = xs[0] - 5 - route.width / 2 if i < len(group) // 2 else xs[-1] + 5 + route.width / 2
            route.label_at = (beside, (top.bottom + low.y) / 2)


def _route_lanes(lanes: list[_Route], grid: _Grid) -> None:
    """Bottom ports of the lowest boxes, channels for the others, and the lanes between them."""
    col = grid.column
    for name, box in grid.boxes.items():
        if not grid.lowest(name):
            continue
        ends = []
        for route in lanes:
            for outgoing, here, other in ((True, route.source, route.dest), (False, route.dest, route.source)):
                if here == name:
                    # Within a column the other end is higher: through the left channel if it is the dest.
                    leftward = col[other] < col[name] or (col[other] == col[name] and outgoing)
                    # Leftward lanes: deeper ones further right; rightward: deeper further left.
                    ends.append(((0, route.lane) if leftward else (1, -route.lane), route, outgoing))
        ends.sort(key=lambda end: end[0])
        for (_, route, outgoing), x in zip(ends, _spread(box.x, box.width, len(ends))):
            if outgoing:
                route.exit = [(x, box.bottom), (x, grid.lane_y(route))]
            else:
                route.entry = [(x, grid.lane_y(route)), (x, box.bottom)]
    _channels([r for r in lanes if not r.exit], grid, outgoing=True)
    _channels([r for r in lanes if not r.entry], grid, outgoing=False)
    for route in lanes:
        route.points = route.exit + route.entry
        route.label_at = ((route.exit[-1][0] + route.entry[0][0]) / 2, route.entry[0][1])  # on the lane


def _channels(users: list[_Route], grid: _Grid, outgoing: bool) -> None:
    """Vertical channels beside a column (right for exits, left for entries); higher ports outermost."""
    def end(route: _Route) -> str:
        return route.source if outgoing else route.dest

    for route in users:
        members = [b for b in grid.boxes.values() if grid.column[b.name] == grid.column[end(route)]]
        here = sorted((r for r in users if grid.column[end(r)] == grid.column[end(route)]),
                      key=lambda r: (-grid.row[end(r)], r.lane))
        offset = CHANNEL + here.index(route) * CHANNEL_STEP
        x = max(b.right for b in members) + offset if outgoing else min(b.x for b in members) - offset
        port = route.start if outgoing else route.end
        path = [port, (x, port[1]), (x, grid.lane_y(route))]
        if outgoing:
            route.exit = path
        else:
            route.entry = path[::-1]


def _route_loops(routes: list[_Route], boxes: dict[str, Box]) -> None:
    """Loops side by side on top, the leftmost tallest: each label, right of its loop, clears the rest."""
    for name, box in boxes.items():
        loops = [r for r in routes if r.kind == "loop" and r.source == name]
        step = LOOP_WIDTH + 12
        left = box.center[0] - (len(loops) * step - 12) / 2
        for j, route in enumerate(loops):
            x, top = left + j * step, box.y - LOOP_HEIGHT - LOOP_STEP * (len(loops) - 1 - j)
            route.points = [(x, box.y), (x, top), (x + LOOP_WIDTH, top), (x + LOOP_WIDTH, box.y)]
            route.label_at = (x + LOOP_WIDTH + 4 + route.width / 2, top)


def _rect(center: Point, width: float, pad: float = 0.0) -> Rect:
    x, y = center
    return (x - width / 2 - pad, y - LABEL_HEIGHT / 2 - pad, x + width / 2 + pad, y + LABEL_HEIGHT / 2 + pad)


def _overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _place_labels(routes: list[_Route], boxes: dict[str, Box]) -> None:
    """Nudge each label (loops' up, others' down) off the boxes and the labels placed before it."""
    taken: list[Rect] = [(b.x, b.y, b.right, b.bottom) for b in boxes.values()]
    for route in routes:
        (x, y), step = route.label_at, -2.0 if route.kind == "loop" else 2.0
        free = (i for i in range(200) if not any(_overlaps(_rect((x, y + i * step), route.width, 1), t) for t in taken))
        route.label_at = (x, y + next(free, 0) * step)
        taken.append(_rect(route.label_at, route.width, 1))


def _fit(routes: list[_Route], boxes: dict[str, Box], initial: str) -> Layout:
    """Shift everything so the drawing starts at the margin, size it to end at the margin, and
    round to 0.1 px (box borders are multiples of 0.5 px, so points on them stay exactly on them)."""
    rects = [(b.x, b.y, b.right, b.bottom) for b in boxes.values()] + [_rect(r.label_at, r.width) for r in routes]
    xs = [v for r in rects for v in r[0::2]] + [p[0] for r in routes for p in r.points]
    xs.append(boxes[initial].x - START_ROOM)
    ys = [v for r in rects for v in r[1::2]] + [p[1] for r in routes for p in r.points]
    dx, dy = MARGIN - min(xs), MARGIN - min(ys)

    def at(x: float, y: float) -> Point:
        return (round(x + dx, 1), round(y + dy, 1))

    moved = {name: dataclasses.replace(b, x=at(b.x, b.y)[0], y=at(b.x, b.y)[1]) for name, b in boxes.items()}
    edges = tuple(
        Edge(r.trigger, r.label, r.source, r.dest, tuple(at(x, y) for x, y in r.points), *at(*r.label_at),
             loop=r.kind == "loop", back=r.back, label_width=r.width)
        for r in routes
    )
    return Layout(moved, edges, *at(max(xs) + MARGIN, max(ys) + MARGIN))
