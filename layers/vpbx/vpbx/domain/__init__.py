"""Pure domain: models, scenario graph, validation, executor, analysis, diagram. No boto3, no HTTP."""
