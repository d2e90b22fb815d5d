"""The provider interface that every channel plugin implements."""
