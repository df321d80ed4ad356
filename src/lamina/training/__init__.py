"""``lamina.training``: the training loop (``Trainer``), callbacks, metrics, ``History`` and checkpoints.

    from lamina.training import Trainer, EarlyStopping, ModelCheckpoint
    trainer = Trainer(model, opt, nn.CrossEntropyLoss(), metrics=["accuracy"],
                      callbacks=[EarlyStopping(monitor="val_loss", patience=3)])
    history = trainer.fit(train_loader, val_loader=val_loader, epochs=20)
    trainer.evaluate(test_loader)      # {"loss": ..., "accuracy": ...}
"""

from lamina.training import metrics
from lamina.training.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    TensorBoard,
)
from lamina.training.checkpoint import capture_rng_state, read_checkpoint, restore_rng_state
from lamina.training.history import History, plot_confusion_matrix, plot_history
from lamina.training.progress import ProgressBar
from lamina.training.trainer import Trainer

__all__ = ["Trainer", "Callback", "LambdaCallback", "EarlyStopping", "ModelCheckpoint", "LearningRateScheduler",
           "CSVLogger", "TensorBoard", "ProgressBar", "History", "plot_history", "plot_confusion_matrix", "metrics",
           "capture_rng_state", "restore_rng_state", "read_checkpoint"]
