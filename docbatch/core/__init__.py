"""The job lifecycle without Temporal: what a job is (``plan.JobPlan``, decided once at
create time) and how one item of it is processed (``processor.ItemProcessor``: start →
engine → output → record). ``workflows/`` and ``activities/`` only adapt to it.

The modules are imported by name (``docbatch.core.plan``): creating a job needs the plan
without the processor's engine imports.
"""
