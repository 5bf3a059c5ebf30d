"""
The ``mlflow.artifact_repository`` entry point: a factory that imports the repository on
first use. MLflow loads these entry points while its artifact-repository registry module is
being imported, which ``eventreg.mlflow.artifacts`` itself imports; pointing the entry point
at the class would load a half-initialised module (MLflow then only warns and the scheme is
missing). This module imports nothing at load time.
"""


def artifact_repository(artifact_uri, tracking_uri=None, registry_uri=None):
    """
    An :class:`~eventreg.mlflow.artifacts.EventregArtifactRepository` for ``artifact_uri``.
    """
    from eventreg.mlflow.artifacts import EventregArtifactRepository

    return EventregArtifactRepository(artifact_uri, tracking_uri, registry_uri)
