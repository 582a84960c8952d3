"""The element catalogue, one module per family of element types (DESIGN.md §2).

Each family module holds, for its types, everything the rest of the domain asks of an element: the pydantic model,
its validation checks (`check`), its executor node (`compile`), its diagram shape and text (`shape`, `describe`),
its worst case for analysis (`worst_case_seconds`), what it asks telephony for (`awaits`, which simulation uses) and
the directory objects it names (`references`). `base` and `steps` below the families hold what they share;
`registry` joins the families into the `Element` union (vpbx.domain.scenario re-exports it).
"""
