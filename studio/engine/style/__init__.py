"""Style transfer: VGG19 features with the original weights (:mod:`studio.engine.style.vgg`)."""
