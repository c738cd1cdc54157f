"""The registry entries of training (seed 000 server and ML APIs) and follow-ups (see
hub/openapi_registry.py). `brain="training"` marks the routes that start a LoRA fine-tuning process."""

from __future__ import annotations

from hub.api import followups, training
from hub.openapi import Op
from hub.openapi_models_jobs import (FollowUpPage, FollowUpSettings, FollowUpView, MlTrainingJob,
                                     TrainingJobEnvelope, TrainingSamplePage)

SERVER, ML = "Server API (seed 000)", "ML API (seed 000)"
ONE_JOB = "One active job per device or API key: a second start is a 409 until the first ends."
OWNER_ONLY = "An API key only: a device token gets a 403."

TRAINING_OPERATIONS = (
    Op("GET", "/api/training/samples", "List training samples (what was done with each draft)", SERVER,
       query=training.SamplesQuery, ok={200: TrainingSamplePage}),
    Op("POST", "/api/training/start", "Start a LoRA fine-tuning job on accepted and edited drafts", SERVER,
       body=training.StartBody, ok={201: TrainingJobEnvelope}, errors=(409,), brain="training",
       description=ONE_JOB),
    Op("GET", "/api/training/jobs/{id}", "A training job's status and progress", SERVER, ok={200: TrainingJobEnvelope}),
    Op("POST", "/api/training/jobs/{id}/cancel", "Cancel a training job", SERVER, ok={200: TrainingJobEnvelope},
       errors=(409,)),
    Op("POST", "/api/training/retrain", "Relearn styles, examples and classifiers now (an extension)", SERVER,
       ok={201: TrainingJobEnvelope}, errors=(409,), brain="embedder", slow=True),
    Op("POST", "/training/start", "Start a LoRA fine-tuning job on the given samples", ML,
       body=training.MlStartBody, ok={200: MlTrainingJob}, errors=(400, 409), brain="training",
       description=ONE_JOB + " A job_id used before is a 409 too."),
    Op("GET", "/training/status/{job_id}", "A training job's status and progress", ML, ok={200: MlTrainingJob}),
    Op("POST", "/training/cancel/{job_id}", "Cancel a training job", ML, ok={200: MlTrainingJob}, errors=(409,)),
)

FOLLOWUP_OPERATIONS = (
    Op("GET", "/api/followups", "Planned follow-up nudges and why", SERVER, query=followups.ListQuery,
       ok={200: FollowUpPage}, errors=(404,), description=OWNER_ONLY + " A conversationId or contactId that does not exist is a 404."),
    Op("POST", "/api/followups/{id}/cancel", "Cancel a nudge that has not fired", SERVER, ok={200: FollowUpView},
       errors=(409,), description=OWNER_ONLY),
    Op("GET", "/api/followups/settings", "The owner's follow-up defaults", SERVER, ok={200: FollowUpSettings},
       description=OWNER_ONLY),
    Op("PUT", "/api/followups/settings", "Change the owner's follow-up defaults (null inherits again)", SERVER,
       body=followups.OwnerSettingsBody, ok={200: FollowUpSettings}, description=OWNER_ONLY),
    Op("GET", "/api/followups/contacts/{id}/settings", "One contact's follow-up settings", SERVER,
       ok={200: FollowUpSettings}, description=OWNER_ONLY),
    Op("PUT", "/api/followups/contacts/{id}/settings", "Change one contact's follow-up settings", SERVER,
       body=followups.ContactSettingsBody, ok={200: FollowUpSettings}, description=OWNER_ONLY),
)

JOB_OPERATIONS: tuple[Op, ...] = (*TRAINING_OPERATIONS, *FOLLOWUP_OPERATIONS)
