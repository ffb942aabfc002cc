"""The pseudonymised key of every respondent, computed once per respondent (ingest/pseudonym.py):
left(sha256("<wave>:<firm's respondent id>:<salt>"), 24). The salt is read from the environment
(ingest/settings.py, in dbt's process), so it never appears in SQL, in dbt's compiled files or in the warehouse."""
from ingest.pseudonym import respondent_key, salt
from ingest.settings import Settings


def model(dbt, session):
    dbt.config(materialized="table")
    respondents = dbt.ref("int_survey__respondents").project("wave_year, respondent_source_id").df()
    key_salt = salt(Settings.from_env())
    respondents["respondent_key"] = [respondent_key(w, s, key_salt) for w, s in
                                     zip(respondents["wave_year"], respondents["respondent_source_id"])]
    return respondents.sort_values(["wave_year", "respondent_source_id"], kind="stable").reset_index(drop=True)
