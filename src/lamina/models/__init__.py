"""``lamina.models``: the architecture catalogue, by name (``get_model("cnn", num_classes=10)``).

    from lamina.models import get_model, list_models, register_model
    model = get_model("mlp", input_shape=(1, 8, 8), num_classes=10, depth=3, width=128, dropout=0.1)
"""

from lamina.models.autoencoder import VAE, AutoEncoder, autoencoder, vae
from lamina.models.cnn import CNN, cnn
from lamina.models.dqn import DQNAgent, QNetwork, ReplayBuffer, evaluate_policy, qnetwork, train_dqn
from lamina.models.gan import DCGAN, DCGANDiscriminator, DCGANGenerator, dcgan
from lamina.models.lenet import LeNet5, lenet5
from lamina.models.mlp import MLP, mlp
from lamina.models.registry import get_model, list_models, model_builder, register_model
from lamina.models.rnn import LSTMForecaster, SequenceClassifier, gru, lstm, lstm_forecaster, rnn
from lamina.models.transformer import CharTransformer, TransformerClassifier, char_transformer, transformer_classifier

__all__ = ["register_model", "get_model", "list_models", "model_builder", "MLP", "mlp", "CNN", "cnn",
           "LeNet5", "lenet5", "SequenceClassifier", "rnn", "lstm", "gru", "LSTMForecaster", "lstm_forecaster"]
__all__ += ["TransformerClassifier", "transformer_classifier", "CharTransformer", "char_transformer"]
__all__ += ["DCGAN", "DCGANGenerator", "DCGANDiscriminator", "dcgan", "AutoEncoder", "autoencoder", "VAE", "vae",
            "QNetwork", "qnetwork", "ReplayBuffer", "DQNAgent", "train_dqn", "evaluate_policy"]
