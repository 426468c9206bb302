"""The SQLite store: schema, migrations and every read and write; no SQL lives outside this package.

All state shared between the UI and the worker lives here. Modules: `db` (connections, the
writer lock, `transaction()`, the migration runner), `schema` (each version's statements),
`enums` (actions, splits, job kinds and statuses), `projects`, `examples`, `labels`
(annotations and the label in effect), `leases`, `jobs` (jobs and workers), `versions`
(encoders, versions, pins), `team` (users, sessions, assignments, adjudications, audit log),
`maintenance` (backup copies). The store takes no actor: role checks and the decision to
audit are `core.team`'s. Callers use `from core import store; store.name(...)`.
"""
from __future__ import annotations

from core.store.classes import (add_class, guideline_versions, rename_class, set_class_description,
                                set_guidelines)
from core.store.db import (BUSY_TIMEOUT_MS, StoreError, connect, disconnect, eval_order_key, migrate, now, overlap_key, schema_version,
                           transaction)
from core.store.enums import Action, JobKind, JobStatus, Split
from core.store.examples import (example, example_count, example_ids, example_project, existing_hashes,
                                 insert_examples, search_examples, texts_by_id, unlabeled_count)
from core.store.jobs import (WORKER_DIED, JobCancelled, active_jobs, check_open, attempt_message, claim_job, db_workers,
                             drop_superseded_heads, enqueue, enqueue_coalesced, fail_job, finish_job, has_active_job,
                             heartbeat_jobs,
                             job, job_progress, jobs, last_requested_watermark, latest_result, live_workers,
                             reap_worker, remove_worker, requeue_lost, requeue_stale_jobs, requeue_worker_jobs,
                             unresolved_failures, worker_device, worker_heartbeat)
from core.store.labels import (CURRENT_LABELS_SQL, IMPORTED, add_annotation, annotation_times,
                               annotations, annotator_labels, current_labels, label_count, labels_at,
                               label_history, labels_by_split, labels_since, last_undoable, max_annotation_id,
                               newest_annotation_at, recent_label_times)
from core.store.leases import (SHUFFLE_KEY, eval_in_order, label_holders, lease, lease_holder, overlap_chosen, own_lease,
                               release_leases, second_label_open, shuffled_examples, skipped_by, unavailable,
                               waiting_for_second_label)
from core.store.maintenance import copy_from, copy_to, move_paths, open_intact, referenced_paths
from core.store.projects import (KINDS, change_settings, class_names, classes, create_project, delete_project, project,
                                 project_by_name, project_kind, project_table, projects, rename_project, set_intended_use,
                                 settings)
from core.store.schema import SCHEMA_VERSION
from core.store.team import (add_audit, add_decision, add_session, add_user, assigned_projects, audit_log,
                             decided_examples, decisions, end_session, end_sessions, failed_logins, forget_sign_in_attempts, has_users,
                             is_assigned, other_active_admins, session_user, set_active, set_assigned,
                             set_failed_logins, set_password_hash, set_role, set_sign_in_attempts, sign_in_attempts, user, user_exists, user_for_login,
                             users)
from core.store.versions import (NewEncoder, NewVersion, add_encoder, current_version, encoder, encoder_before, head_on_model_since, latest_encoder, latest_version, pin,
                                 pin_history, publish_version, set_pin, update_timing, version,
                                 version_id_by_number, versions)


__all__ = [
    'Action', 'BUSY_TIMEOUT_MS', 'KINDS', 'project_kind', 'JobCancelled', 'check_open', 'CURRENT_LABELS_SQL', 'NewEncoder', 'NewVersion',
    'IMPORTED', 'JobKind', 'JobStatus',
    'SCHEMA_VERSION', 'SHUFFLE_KEY', 'Split', 'StoreError', 'WORKER_DIED', 'active_jobs',
    'add_annotation', 'add_audit', 'add_decision', 'add_encoder', 'add_session', 'add_user', 'annotation_times',
    'annotations', 'annotator_labels', 'assigned_projects', 'attempt_message', 'audit_log',
    'change_settings', 'claim_job', 'class_names', 'classes', 'connect', 'copy_from', 'copy_to', 'create_project',
    'current_labels', 'current_version', 'db_workers', 'decided_examples', 'decisions', 'disconnect', 'delete_project',
    'drop_superseded_heads', 'encoder', 'end_session', 'end_sessions', 'enqueue', 'enqueue_coalesced', 'eval_in_order',
    'eval_order_key', 'example', 'example_count',
    'example_ids', 'example_project', 'existing_hashes', 'fail_job', 'failed_logins', 'forget_sign_in_attempts', 'finish_job',
    'has_active_job', 'has_users', 'heartbeat_jobs', 'insert_examples', 'is_assigned', 'job', 'job_progress',
    'jobs', 'label_count', 'label_history', 'label_holders', 'labels_at', 'labels_by_split', 'labels_since',
    'last_requested_watermark', 'last_undoable', 'latest_encoder', 'latest_result', 'latest_version', 'lease',
    'lease_holder', 'live_workers', 'max_annotation_id', 'migrate', 'move_paths', 'newest_annotation_at', 'now',
    'open_intact', 'other_active_admins', 'overlap_chosen', 'overlap_key', 'own_lease', 'pin', 'pin_history',
    'project', 'project_by_name', 'project_table', 'projects', 'publish_version', 'reap_worker', 'recent_label_times',
    'referenced_paths', 'release_leases', 'remove_worker', 'rename_project', 'requeue_stale_jobs',
    'requeue_lost', 'requeue_worker_jobs', 'encoder_before', 'head_on_model_since', 'schema_version', 'search_examples', 'second_label_open', 'session_user', 'set_active',
    'set_assigned', 'set_failed_logins', 'set_sign_in_attempts', 'sign_in_attempts', 'set_intended_use', 'set_password_hash', 'set_pin', 'set_role',
    'settings', 'shuffled_examples', 'skipped_by', 'texts_by_id', 'transaction', 'unavailable', 'unlabeled_count',
    'unresolved_failures', 'update_timing', 'user', 'user_exists', 'user_for_login', 'users', 'version',
    'version_id_by_number', 'versions', 'waiting_for_second_label', 'worker_device', 'worker_heartbeat',
]
__all__ += ['add_class', 'guideline_versions', 'rename_class', 'set_class_description', 'set_guidelines']  # classes.py
