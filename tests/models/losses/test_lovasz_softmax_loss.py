"""Lovasz-softmax against a literal per-class implementation."""
import pytest
import torch

from kdmos_plugin.models.losses import LovaszSoftmaxLoss


def _literal_lovasz(logits, labels, ignore=0, classes='present'):
    """Per class: sort errors, Jaccard of every prefix, sum of error * step."""
    probs = torch.softmax(logits.double(), 1)
    keep = labels != ignore
    probs, labels = probs[keep], labels[keep]
    losses = []
    for c in range(probs.shape[1]):
        fg = (labels == c).double()
        if classes == 'present' and fg.sum() == 0:
            continue
        err = (fg - probs[:, c]).abs()
        order = sorted(range(len(err)), key=lambda i: -float(err[i]))
        total, prev, loss = float(fg.sum()), 0.0, 0.0
        for n in range(1, len(order) + 1):
            top = order[:n]
            inter = total - float(fg[top].sum())
            union = total + float((1 - fg[top]).sum())
            jac = 1.0 - inter / union
            loss += float(err[order[n - 1]]) * (jac - prev)
            prev = jac
        losses.append(loss)
    return sum(losses) / len(losses) if losses else 0.0


@pytest.mark.parametrize('classes', ['present', 'all'])
def test_matches_literal(classes):
    torch.manual_seed(0)
    logits = torch.randn(60, 4)
    labels = torch.randint(0, 3, (60, ))  # class 3 absent
    loss = LovaszSoftmaxLoss(classes=classes, ignore_index=0)(logits, labels)
    assert abs(float(loss) - _literal_lovasz(logits, labels,
                                             classes=classes)) < 1e-5


def test_ignored_elements_do_not_count():
    torch.manual_seed(1)
    logits, labels = torch.randn(40, 4), torch.randint(1, 4, (40, ))
    loss = LovaszSoftmaxLoss(ignore_index=0)
    extra = torch.cat([logits, torch.randn(10, 4) * 5])
    extra_labels = torch.cat([labels, torch.zeros(10, dtype=torch.long)])
    torch.testing.assert_close(loss(extra, extra_labels), loss(logits, labels))


def test_dense_input_and_weight():
    torch.manual_seed(2)
    logits = torch.randn(2, 4, 3, 5)
    labels = torch.randint(0, 4, (2, 3, 5))
    flat = logits.permute(0, 2, 3, 1).reshape(-1, 4)
    loss = LovaszSoftmaxLoss(loss_weight=2.0)
    torch.testing.assert_close(loss(logits, labels),
                               loss(flat, labels.reshape(-1)))
    assert abs(float(loss(flat, labels.reshape(-1))) -
               2 * _literal_lovasz(flat, labels.reshape(-1))) < 1e-5


def test_all_ignored_gives_zero_with_graph():
    logits = torch.randn(5, 4, requires_grad=True)
    loss = LovaszSoftmaxLoss()(logits, torch.zeros(5, dtype=torch.long))
    assert float(loss) == 0.0
    loss.backward()
    assert logits.grad is not None


def test_gradient_flows():
    logits = torch.randn(20, 4, requires_grad=True)
    LovaszSoftmaxLoss()(logits, torch.randint(1, 4, (20, ))).backward()
    assert float(logits.grad.abs().sum()) > 0
