"""Fine-tuning a trained model: which augmentation during the extra epochs. PublicTest after each epoch.

    FER_DATA=/path/to/fer2013 python benchmarks/finetune_augment.py [--model M] [--variants mirror shifts full]

For each variant, the model (default: the shipped one) is rebuilt with that augmentation
(:func:`helpers.finetune.rebuilt`) and trained ``--epochs`` more epochs on Training (less the faces that are
pixel-identical to a test face) with NAdam, the learning rate falling from ``--lr`` to 0 along a cosine, the
shipped recipe's class weights and label smoothing, under the machine's precision policy:

- ``mirror``: mirror images only (what ``python -m helpers.finetune`` does);
- ``shifts``: mirror images and shifts of up to 2 pixels (what flip + shifts TTA also sees);
- ``full``: the training augmentation itself (flip, rotation, shift, zoom, contrast, brightness): the control,
  more epochs at a low rate and nothing else changed.

After each epoch: PublicTest accuracy (float32, no TTA) of the network as it is, and after its batch-norm
statistics are recomputed on 1,000 clean Training faces (:func:`helpers.batchnorm.recompute`). PublicTest
only: this chooses how the shipped model is made, so PrivateTest is not looked at. Prints figures; asserts
nothing. About 11 minutes a variant for ``wide_cnn`` on a 2-core CPU.
"""

import argparse
import time

import numpy as np

VARIANTS = {"mirror": dict(rotation=0, shift=0, zoom=0, contrast=0, brightness=0),
            "shifts": dict(rotation=0, shift=2 / 48, zoom=0, contrast=0, brightness=0),
            "full": {}}


def main():
    from helpers import audit, balance, batchnorm, data, evaluate, finetune, models, shipped, train
    from helpers.backend import configure_device, keras
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a .keras file with its .json (default: the shipped model)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    ds, _ = audit.without_train_leaks(data.load())
    device = configure_device()
    x, y = ds.xy("train")
    x_public, y_public = ds.xy("public")
    targets = keras.utils.to_categorical(y, len(ds.classes))

    def public_accuracy(network):
        return evaluate.scores(y_public, evaluate.predict_proba(network, x_public).argmax(1))["accuracy"]

    table = []
    for variant in args.variants:
        train.set_seeds(args.seed)
        given, meta = shipped.load(args.model)
        recipe = meta["recipe"]
        model = finetune.rebuilt(given, recipe, models.augmentation(**VARIANTS[variant]))
        start = public_accuracy(models.as_float32(model))
        print(f"{variant}: PublicTest as given {start:.2%} ({device['policy']})", flush=True)
        steps = int(np.ceil(len(x) / 128)) * args.epochs
        model.compile(optimizer=keras.optimizers.Nadam(keras.optimizers.schedules.CosineDecay(args.lr, steps)),
                      loss=keras.losses.CategoricalCrossentropy(label_smoothing=recipe["label_smoothing"]),
                      metrics=["accuracy"])
        weights = balance.class_weights(y, len(ds.classes), power=recipe["weight_power"])
        for epoch in range(1, args.epochs + 1):
            began = time.perf_counter()
            history = model.fit(x, targets, batch_size=128, epochs=epoch, initial_epoch=epoch - 1,
                                class_weight=weights, verbose=2)
            seconds = time.perf_counter() - began
            network = models.as_float32(model)
            plain = public_accuracy(network)
            batchnorm.recompute(network, x, 1000, seed=0)
            table.append((variant, epoch, seconds, history.history["accuracy"][-1], plain, public_accuracy(network)))
            print("{} epoch {}: {:.0f} s, Training (augmented) {:.1%}, PublicTest {:.2%}, statistics recomputed "
                  "{:.2%}".format(*table[-1]), flush=True)
    print("\n| augmentation | epoch | seconds | Training accuracy | PublicTest | PublicTest, statistics recomputed |")
    print("|---|---|---|---|---|---|")
    for row in table:
        print("| {} | {} | {:.0f} | {:.1%} | {:.2%} | {:.2%} |".format(*row))


if __name__ == "__main__":
    main()
