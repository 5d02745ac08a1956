"""The local platform: `platform/services.yaml`, its templates and the engine-side lifecycle."""
