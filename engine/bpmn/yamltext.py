"""An imported process written as YAML in our house layout (for :mod:`engine.bpmn.reader`): keys in the
order our files use, fields on one line, and the conditions and timer durations the file wrote as comments."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import yaml
from lxml import etree

from engine.bpmn.subset import _text
from engine.bpmn.writer import read_process

if TYPE_CHECKING:
    from engine.bpmn.reader import _Importer


def definition_data(process: etree._Element, importer: _Importer, ident: str) -> dict[str, Any]:
    """The definition as plain data, in the order of our YAML files (``ident``: its id unless our extension names one)."""
    ours = read_process(process)
    ident = ours.get("id") or ident
    data: dict[str, Any] = {"id": ident, "version": ours.get("version", 1),
                            "label": _label(_text(process.get("name") or process.get("id")), ours.get("label_en", "")),
                            "initial": importer.initial, "states": {}, "transitions": []}
    for s in importer.states.values():
        data["states"][s.name] = {"label": _label(s.label, s.label_en)} | ({"final": True} if s.final else {}) | (
            {"deadline": s.deadline} if s.deadline else {}) | ({"escalate_to": s.escalate_to} if s.escalate_to else {}) | (
            {"remind": _Inline(s.remind)} if s.remind else {}) | (
            {"branches": _branches(s.branches), "join": s.join} if s.branches else {})
    for t in importer.transitions:
        item = {"trigger": t.trigger, "label": _label(t.label, t.label_en),
                "from": t.sources[0] if len(t.sources) == 1 else t.sources, "to": t.dest, "roles": t.roles}
        extras = {"fields": {f["name"]: _field(f) for f in t.fields}, "when": t.when or None,
                  "comment": "required" if t.comment_required else None,
                  "countersign": t.countersign or None,
                  "scope": t.scope if t.scope != "parties" else None, "guards": t.guards, "effects": t.effects, "notify": t.notify}
        data["transitions"].append(item | {k: v for k, v in extras.items() if v})
    data |= {k: ours[k] for k in ("separation_of_duties", "reminders", "escalation") if k in ours}
    if importer.timed and "escalation" not in data:  # a timer is a deadline someone must be told about
        data["escalation"] = [{"level": 1, "after_working_days": 0, "notify": ["office"]}]
    return data


def _branches(branches: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A parallel state's branches, each step on one line as our files write them (its fields below it)."""
    return {name: {"label": b["label"], "steps": [_Inline(step) if "fields" not in step else step for step in b["steps"]]}
            for name, b in branches.items()}


def _label(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh} | ({"en": en} if en else {})


def _field(f: dict[str, Any]) -> _Inline:
    spec: dict[str, Any] = {"type": f["type"]} | ({} if f["required"] else {"required": False})
    spec |= {"label": {"zh": f["label"]}} if f["label"] else {}
    return _Inline(spec | {k: f[k] for k in ("min", "max", "max_length") if f[k] is not None})


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:  # lists indented, as we write them
        return super().increase_indent(flow, False)


class _Inline(dict):
    """A mapping written on one line, as our files write fields."""


_Dumper.add_representer(_Inline, lambda dumper, value: dumper.represent_mapping("tag:yaml.org,2002:map", value, flow_style=True))


def yaml_text(data: dict[str, Any], importer: _Importer, header: list[str]) -> str:
    """YAML text in our house layout, with the conditions and timer durations as comments."""
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=None, width=4096)
    states, transitions = list(importer.states.values()), importer.transitions
    out, section, index = [f"# {line}" for line in header], "", -1
    for line in text.splitlines():
        if not line.startswith(" "):
            section, index = line.split(":")[0], -1
            out += [""] if section in ("states", "transitions", "reminders", "escalation") else []
        elif (section == "states" and re.match(r"  \S", line)) or (section == "transitions" and line.startswith("  - ")):
            index += 1
            out += [""] if section == "transitions" and index else []
        if section == "states" and line.startswith("    deadline:") and states[index].note:
            line += f"  # {states[index].note}"
        if section == "states" and line.startswith("    remind:") and states[index].remind_note:
            line += f"  # {states[index].remind_note}"
        if section == "transitions" and line.startswith("    when:") and transitions[index].when_sources:
            line += "  # " + " && ".join(transitions[index].when_sources)
        if section == "transitions" and line.startswith("    guards:") and transitions[index].conditions:
            notes = transitions[index].conditions
            line += "  # " + ("; ".join(f"{g}: {c}" for g, c in notes.items()) if len(notes) > 1 else next(iter(notes.values())))
        out.append(line)
    return "\n".join(out) + "\n"
