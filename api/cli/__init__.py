"""The ``kaoping`` command line: ``main`` holds the commands, ``plans``, ``bpmn`` and ``demo`` their groups.

``python -m api.cli`` runs it as the console script does.
"""
