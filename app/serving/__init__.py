"""The served-state engine: what each endpoint of a toolset serves, now.

One question, one answer, for the JSON API's getEffectiveToolset and the MCP
server alike::

    from app.serving.engine import Endpoint, ServedStates

    serving: ServedStates = app.state.serving         # one per process (lifespan)
    served = await serving.served(Endpoint(org, "my-project", "my-toolset"))
    served.body        # the EffectiveToolset as JSON bytes (what getEffectiveToolset answers)
    served.model()     # the same, parsed into app.toolsets.schemas.EffectiveToolset
    served.key         # equal keys mean an identical body; None when not cacheable
    served.source      # "iteration", "release" or "staging"
    serving.cached_body(endpoint)  # the body from the caches alone, or None (no I/O)

`Endpoint(org, project, toolset)` is the live toolset (its current release in
staging mode, its current data in iteration mode); `release_number=N` pins a
release; `staging=True` is the staging copy. Unknown project, toolset, release
or staging copy raise the domain's 404 errors (`toolset_not_found`,
`release_not_found`, `staging_not_found`). Callers check scopes themselves
(`read`; `write` for the staging copy).

Inside the package:
- `state`: the computation of an effective state in one statement (current data,
  or exactly what a release points at); used by diffs, mode switch and capture
  checks too;
- `pointers`: which state each live toolset serves, cached per process and
  invalidated by PostgreSQL's NOTIFY;
- `fast_path`: getEffectiveToolset answered from the caches before routing;
- `engine`: `ServedStates`, the one entry point above.
"""
