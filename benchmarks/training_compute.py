"""How much computation a training run is: multiply-adds per face for each zoo model, and for whole runs.

    python benchmarks/training_compute.py

Counts the multiply-adds (MACs) of the convolution and dense layers of one forward pass (everything else is
small beside them), and estimates a training run as 3 x forward MACs x faces seen (the backward pass costs
about twice the forward). It compares this project's full runs with the public FER2013 reference that
reports 73.1% on PrivateTest (WuJie1010/Facial-Expression-Recognition.Pytorch, ``mainpro_FER.py``): VGG19
with batch norm on 44x44 crops (grey repeated to 3 channels), 250 epochs of the 28,709 Training faces, SGD;
note that it keeps the epoch with the best *PrivateTest* accuracy, so its figure was selected on the test
split. Prints figures; asserts nothing; needs no data.
"""

import keras
from keras import layers


def forward_macs(model: keras.Model) -> int:
    """Multiply-adds of one forward pass of one image through the Conv2D and Dense layers of ``model``."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            kh, kw = layer.kernel_size
            total += h * w * c_out * kh * kw * layer.input.shape[-1]
        elif isinstance(layer, layers.Dense):
            total += layer.input.shape[-1] * layer.units
    return total


def reference_vgg19(size=44) -> keras.Model:
    """The reference's VGG19 layout (3x3 convs with batch norm, 5 max-pools, linear classifier on 512)."""
    plan = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
            512, 512, 512, 512, "M"]
    stack = [keras.Input((size, size, 3))]
    for step in plan:
        stack += ([layers.MaxPooling2D()] if step == "M"
                  else [layers.Conv2D(step, 3, padding="same"), layers.BatchNormalization(), layers.ReLU()])
    stack += [layers.Flatten(), layers.Dense(7)]
    return keras.Sequential(stack)


def main():
    from helpers import models
    per_face = {name: forward_macs(models.build(name, augment=False)) for name in models.ZOO}
    per_face["reference VGG19, 44x44"] = forward_macs(reference_vgg19())
    print(f"{'model':<24} {'forward MMACs per face':>22}")
    for name, macs in per_face.items():
        print(f"{name:<24} {macs / 1e6:>22.0f}")
    runs = [  # (what, model, epochs, faces per epoch)
        ("shipped cpu_wide_ema", "wide_cnn", 62, 28_006),
        ("a 150-min budget run", "wide_cnn", 48, 28_006),
        ("cpu_wide_ema, 120 epochs", "wide_cnn", 120, 28_006),
        ("reference, 250 epochs", "reference VGG19, 44x44", 250, 28_709),
    ]
    base = None
    print(f"\n{'training run':<24} {'epochs':>6} {'PetaMACs (3 x fwd x faces)':>27} {'x the shipped run':>18}")
    for what, model, epochs, faces in runs:
        total = 3 * per_face[model] * epochs * faces
        base = base or total
        print(f"{what:<24} {epochs:>6} {total / 1e15:>27.2f} {total / base:>18.1f}")


if __name__ == "__main__":
    main()
