"""Ready LightningModules for common tasks; import them from their module.

``pytorch_hyperlight.tasks.classification`` holds the classification tasks (see its docs). Nothing
is imported here, so ``import pytorch_hyperlight`` stays light.
"""
