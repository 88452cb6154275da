"""sap layer."""
