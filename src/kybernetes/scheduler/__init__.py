"""The scheduler: assigns pending pods to nodes, in the shape of upstream's scheduling framework.

Public surface:

* :func:`run_scheduler` - ``await run_scheduler(url, name="default-scheduler")``
  runs a scheduler against an API server until cancelled;
* :class:`Scheduler` / :class:`SchedulerConfig` - the component, for tests and
  embedding (``Scheduler(client, config).run()``);
* :class:`Profile` and :data:`REGISTRY` - which plugins run, with which weights
  and arguments.

Layout (one concept per module): ``status`` (Status codes, the Diagnosis and
the FitError message), ``resources`` / ``podinfo`` / ``nodeinfo`` (parsed
objects and per-node aggregates), ``cache`` (nodes, placed and assumed pods),
``events`` (cluster events plugins register), ``queue`` (active / backoff /
unschedulable), ``framework`` (extension points and the runner),
``algorithm`` (one decision), ``plugins/`` (the registry, profiles, and one
module per plugin), ``eventsink`` (Events), ``scheduler`` (informers, cycles,
binding), ``__main__`` (a process of its own).  Everything talks to the
cluster through :mod:`kybernetes.client` only.
"""

from kybernetes.scheduler.plugins import DEFAULT_PLUGINS, REGISTRY, Profile
from kybernetes.scheduler.scheduler import Scheduler, SchedulerConfig, run_scheduler

__all__ = ["DEFAULT_PLUGINS", "REGISTRY", "Profile", "Scheduler", "SchedulerConfig", "run_scheduler"]
