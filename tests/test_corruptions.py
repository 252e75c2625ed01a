"""MNIST-C's corruptions (wmbench.perturbations.corruptions) against hand computations and
against the per-image NumPy/scipy reference (the reference repository's way), given the same
random numbers where they are random; plus seeding, ranges, shapes, channels and errors."""

from __future__ import annotations

import colorsys
import math

import numpy as np
import pytest
import torch
from scipy import ndimage

import wmbench.perturbations.corruptions as C
from wmbench.perturbations.corruptions import reference as R
from wmbench.perturbations.corruptions import reference_edges as RE

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def mnist():
    from wmbench.data import load_mnist, to_float

    return to_float(load_mnist().test_images[:64])


def sparse_images(shape, seed=0, dtype=torch.float32):
    """Digit-like test images: mostly black, some pixels lit."""
    generator = torch.Generator().manual_seed(seed)
    values = torch.rand(shape, generator=generator, dtype=dtype)
    return values * (torch.rand(shape, generator=generator, dtype=dtype) > 0.6)


def seeded(seed):
    return torch.Generator().manual_seed(seed)


def test_names_severities_and_tables():
    assert C.CORRUPTIONS == (
        "shot_noise", "impulse_noise", "glass_blur", "motion_blur", "shear", "scale", "rotate",
        "brightness", "translate", "stripe", "fog", "spatter", "dotted_line", "zigzag",
        "canny_edges",
    )  # fmt: skip
    assert C.SEVERITIES == (1, 2, 3, 4, 5) and C.DEFAULT_SEVERITY == 3
    assert set(C.PARAMETERS) == set(C.CORRUPTIONS)
    assert all(len(values) == 5 for values in C.PARAMETERS.values())
    published = {  # the reference functions' defaults (MNIST-C's parameters)
        "shot_noise": 3, "impulse_noise": 0.17, "glass_blur": (0.7, 1, 2),
        "motion_blur": (10, 3), "shear": 0.4, "scale": 0.7, "rotate": 0.4, "brightness": 0.5,
        "translate": 3, "stripe": 7, "fog": (3.0, 1.4), "spatter": (0.65, 0.3, 1, 0.65, 1.5),
        "dotted_line": 2.3, "zigzag": 2.3, "canny_edges": 1.0,
    }  # fmt: skip
    for name, value in published.items():
        assert C.parameter(name, C.DEFAULT_SEVERITY) == pytest.approx(value), name


@pytest.mark.parametrize("name", ["gaussian_noise", "identity", "Shot_Noise", ""])
def test_unknown_name_is_refused(name):
    with pytest.raises(ValueError, match="unknown corruption .*shot_noise, impulse_noise"):
        C.corrupt(name, torch.zeros(1, 1, 28, 28), 3, seeded(0))


@pytest.mark.parametrize("severity", [0, 6, -1, 2.5, True, "3", None])
def test_severity_outside_1_to_5_is_refused(severity):
    with pytest.raises(ValueError, match="severity must be an integer from 1 to 5"):
        C.corrupt("fog", torch.zeros(1, 1, 28, 28), severity, seeded(0))


@pytest.mark.parametrize(
    "images", [torch.zeros(28, 28), torch.zeros(1, 28, 28), torch.zeros(1, 1, 28, 28).byte()]
)
def test_images_that_are_not_float_nchw_are_refused(images):
    with pytest.raises(ValueError, match="expected"):
        C.corrupt("stripe", images, 3, seeded(0))


def test_stripe_inverts_columns_0_to_6_and_21_to_27_of_a_hand_made_image():
    image = torch.tensor([[(r * 28 + c) / 100 for c in range(28)] for r in range(3)])
    expected = torch.tensor(
        [[1 - v if c < 7 or c >= 21 else v for c, v in enumerate(row)] for row in image.tolist()]
    )
    out = C.corrupt("stripe", image.view(1, 1, 3, 28), 3, seeded(0))
    assert torch.equal(out[0, 0], expected)
    wide = C.corrupt("stripe", torch.zeros(2, 3, 4, 32), 3, seeded(0))  # bands of round(7 * 32/28)
    assert torch.equal(wide[0, 0, 0], torch.tensor([1.0] * 8 + [0.0] * 16 + [1.0] * 8))
    assert torch.equal(wide, torch.ones(2, 3, 1, 1) * wide[:1, :1])  # every channel and image
    assert C.stripe_band(1, 28) == 3 and C.stripe_band(5, 28) == 11


def test_brightness_adds_the_severity_and_clips_on_grey_images():
    grey = torch.tensor([0.0, 0.2, 0.5, 0.7, 1.0]).view(1, 1, 1, 5)
    out = C.corrupt("brightness", grey, 3, seeded(0))
    torch.testing.assert_close(
        out.view(-1), torch.tensor([0.5, 0.7, 1.0, 1.0, 1.0]), atol=1e-6, rtol=0
    )
    for severity, amount in zip(C.SEVERITIES, (0.3, 0.4, 0.5, 0.6, 0.7), strict=True):
        torch.testing.assert_close(
            C.corrupt("brightness", grey, severity, seeded(0)), (grey + amount).clamp(max=1)
        )


def test_brightness_of_colour_images_is_the_hsv_value_step():
    rgb = torch.rand(2, 3, 4, 5, generator=seeded(3), dtype=torch.float64)
    rgb[0, :, 0, 0] = 0  # black becomes grey 0.5
    out = C.brightness_by(rgb, 0.5)
    for n, r, c in np.ndindex(2, 4, 5):
        h, s, v = colorsys.rgb_to_hsv(*rgb[n, :, r, c].tolist())
        expected = colorsys.hsv_to_rgb(h, s, min(v + 0.5, 1.0))
        torch.testing.assert_close(out[n, :, r, c], torch.tensor(expected, dtype=torch.float64))


def test_translate_moves_a_one_hot_pixel_by_the_given_shift():
    images = torch.zeros(3, 1, 28, 28)
    images[0, 0, 10, 12] = images[1, 0, 0, 27] = images[2, 0, 27, 0] = 1
    out = C.translate_by(images, torch.tensor([3, 3, 3]), torch.tensor([-3, 2, -3]))
    expected = torch.zeros_like(images)
    expected[0, 0, 7, 15] = expected[2, 0, 24, 3] = 1  # image 1's pixel leaves the image
    assert torch.equal(out, expected)
    assert torch.equal(C.translate_by(images, 0, 0), images)
    with pytest.raises(ValueError, match="whole pixels"):
        C.translate_by(images, 0.5, 0)


@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_rotate_by_a_quarter_turn_is_rot90(dtype, tolerance):
    one_hot = torch.zeros(1, 1, 28, 28, dtype=dtype)
    one_hot[0, 0, 13, 20] = 1  # 6.5 right of the centre (13.5, 13.5) -> 6.5 above it
    expected = torch.zeros_like(one_hot)
    expected[0, 0, 7, 13] = 1
    torch.testing.assert_close(C.rotate_by(one_hot, math.pi / 2), expected, atol=tolerance, rtol=0)
    for shape in [(2, 1, 28, 28), (2, 3, 32, 32)]:
        images = torch.rand(shape, generator=seeded(1), dtype=dtype)
        for turns, angle in [(1, math.pi / 2), (-1, -math.pi / 2), (2, math.pi)]:
            torch.testing.assert_close(
                C.rotate_by(images, angle),
                torch.rot90(images, turns, (2, 3)),
                atol=tolerance,
                rtol=0,
            )


def ramp(height=28, width=28):
    """An image that is an affine function of the position, which bilinear sampling keeps."""
    rows, cols = torch.meshgrid(
        torch.arange(height, dtype=torch.float64), torch.arange(width, dtype=torch.float64),
        indexing="ij",
    )  # fmt: skip
    return lambda r, c: 0.1 + 0.01 * r + 0.02 * c, rows, cols


@pytest.mark.parametrize("angle", [0.4, -0.4, 0.8])
def test_shear_by_reads_each_pixel_where_skimage_shear_says(angle):
    f, rows, cols = ramp()
    in_cols = 13.5 + (cols - 13.5) - math.sin(angle) * (rows - 13.5)
    in_rows = 13.5 + math.cos(angle) * (rows - 13.5)
    inside = (in_cols >= 0) & (in_cols <= 27) & (in_rows >= 0) & (in_rows <= 27)
    out = C.shear_by(f(rows, cols).view(1, 1, 28, 28), angle)[0, 0]
    assert inside.sum() > 500
    torch.testing.assert_close(out[inside], f(in_rows, in_cols)[inside], atol=1e-12, rtol=0)


@pytest.mark.parametrize("factor", [0.7, 0.5, 1.25])
def test_scale_by_reads_each_pixel_where_the_inverse_scale_says(factor):
    f, rows, cols = ramp()
    in_rows, in_cols = 13.5 + (rows - 13.5) / factor, 13.5 + (cols - 13.5) / factor
    inside = (in_cols >= 0) & (in_cols <= 27) & (in_rows >= 0) & (in_rows <= 27)
    outside = (in_cols < -1) | (in_cols > 28) | (in_rows < -1) | (in_rows > 28)
    out = C.scale_by(f(rows, cols).view(1, 1, 28, 28), factor)[0, 0]
    torch.testing.assert_close(out[inside], f(in_rows, in_cols)[inside], atol=1e-12, rtol=0)
    assert torch.all(out[outside] == 0)


@pytest.mark.parametrize(
    "name, candidates",
    [
        ("rotate", lambda x: [C.rotate_by(x, 0.4), C.rotate_by(x, -0.4)]),
        ("shear", lambda x: [C.shear_by(x, 0.4), C.shear_by(x, -0.4)]),
        ("translate", lambda x: [C.translate_by(x, a, b) for a in (-3, 3) for b in (-3, 3)]),
    ],
)
def test_random_affine_corruptions_pick_one_of_the_reference_variants(name, candidates):
    images = sparse_images((32, 1, 28, 28))
    out = C.corrupt(name, images, 3, seeded(5))
    options = candidates(images)
    chosen = [
        [k for k, option in enumerate(options) if torch.equal(out[i], option[i])] for i in range(32)
    ]
    assert all(len(picks) == 1 for picks in chosen)
    assert {picks[0] for picks in chosen} == set(range(len(options)))  # every variant drawn


def test_motion_blur_is_imagemagicks_one_sided_gaussian_trail():
    image = torch.zeros(2, 1, 28, 28, dtype=torch.float64)
    image[:, 0, 10, 15] = 1
    out = C.motion_blur_by(image, 10.0, 3.0, torch.tensor([0.0, 90.0]))
    weights = [math.exp(-(i * i) / 18) for i in range(21)]
    weights = [w / sum(weights) for w in weights]
    along_row, along_col = (
        torch.zeros(28, 28, dtype=torch.float64),
        torch.zeros(28, 28, dtype=torch.float64),
    )
    for i in range(16):  # tap i reads i pixels to the right (0 degrees) or below (90 degrees)
        along_row[10, 15 - i] = weights[i]
    for i in range(11):
        along_col[10 - i, 15] = weights[i]
    torch.testing.assert_close(out[0, 0], along_row, atol=1e-12, rtol=0)
    torch.testing.assert_close(out[1, 0], along_col, atol=1e-12, rtol=0)


def test_glass_blur_blurs_vertically_quantises_and_shuffles_locally():
    image = torch.zeros(1, 1, 28, 28, dtype=torch.float64)
    image[0, 0, 12, 9] = 1
    sigma, delta, iterations = C.glass_settings(3, 28)
    shape = (iterations, 28 - 2 * delta, 28 - 2 * delta, 1)
    no_swaps = torch.zeros(shape, dtype=torch.bool), torch.zeros(shape, dtype=torch.long)
    out = C.glass_blur_with(image, sigma, delta, no_swaps[0], no_swaps[1], no_swaps[1])[0, 0]
    column = np.zeros(28)
    column[12] = 1
    column = np.floor(ndimage.gaussian_filter1d(column, sigma, mode="nearest") * 255 + 1e-3) / 255
    column = ndimage.gaussian_filter1d(column, sigma, mode="nearest")  # skimage's axis-0 blur
    expected = torch.zeros(28, 28, dtype=torch.float64)
    expected[:, 9] = torch.from_numpy(column)
    torch.testing.assert_close(out, expected, atol=1e-15, rtol=0)
    values = torch.rand(4, 2, 28, 28, generator=seeded(2))
    swaps = C.glass_swaps(4, 28, 28, 2, 3, seeded(4), values)
    shuffled = C.local_shuffle(values, 2, *swaps)
    for n, channel in np.ndindex(4, 2):  # a permutation of each image, the same for its channels
        assert torch.equal(
            shuffled[n, channel].flatten().sort().values, values[n, channel].flatten().sort().values
        )
    order = C.local_shuffle(torch.arange(784.0).view(1, 1, 28, 28).expand(4, 2, 28, 28), 2, *swaps)
    assert torch.equal(order[:, 0], order[:, 1])


def test_dotted_line_and_zigzag_on_a_black_image():
    black = torch.zeros(1, 1, 28, 28, dtype=torch.float64)
    dotted = C.dotted_line_through(black, torch.tensor([10]), torch.tensor([10]), 2.3)[0, 0]
    side = math.log(1 - 1 / 2.3) + 1  # one row off the line
    for c in range(28):
        lit = (c // 2) % 2 == 1 and c < 27
        expected = [side, 1.0, side] if lit else [0.0, 0.0, 0.0]
        torch.testing.assert_close(dotted[9:12, c], torch.tensor(expected, dtype=torch.float64))
    assert dotted[:9].sum() == 0 and dotted[12:].sum() == 0
    zigzag = C.zigzag_through(black, torch.tensor([10]), torch.tensor([0]), 2.3)[0, 0]
    for r, c in [(10, 2), (12, 4), (8, 8), (12, 12), (8, 16), (12, 20), (8, 24)]:  # its corners
        assert zigzag[r, c] == 1, (r, c)
    lit_columns = (zigzag.sum(0) > 0).nonzero().flatten().tolist()
    assert lit_columns == list(range(2, 25))


def test_fog_and_spatter_from_given_draws():
    images = sparse_images((2, 1, 28, 28), dtype=torch.float64)
    flat_fog = torch.full((2, 28, 28), 0.5, dtype=torch.float64)
    brightest = images.amax(dim=(1, 2, 3), keepdim=True)
    expected = ((images + 1.5) * brightest / (brightest + 3)).clamp(0, 1)
    torch.testing.assert_close(C.fog_with(images, flat_fog, 3.0), expected)
    settings = C.spatter_settings(3, 28)
    wet = torch.full((2, 1, 28, 28), 10.0, dtype=torch.float64)  # liquid everywhere: all mud
    torch.testing.assert_close(
        C.spatter_with(images, wet, settings), torch.full_like(images, 63 / 255)
    )
    assert torch.equal(C.spatter_with(images, -wet, settings), images)  # no liquid, no mud


def test_plasma_fractal_spans_0_to_1_over_the_whole_map():
    uniforms = C.plasma_uniforms(3, 256, seeded(0), torch.zeros(1, dtype=torch.float64))
    whole = C.plasma_fractal(uniforms, 1.4, 256, 256)
    assert torch.equal(whole.amin(dim=(1, 2)), torch.zeros(3, dtype=torch.float64))
    assert torch.equal(whole.amax(dim=(1, 2)), torch.ones(3, dtype=torch.float64))
    torch.testing.assert_close(C.plasma_fractal(uniforms, 1.4, 28, 28), whole[:, :28, :28])


def test_shot_noise_is_poisson_with_rate_3():
    out = C.corrupt("shot_noise", torch.full((200, 1, 28, 28), 0.5), 3, seeded(0))
    rate = 1.5
    pmf = [math.exp(-rate) * rate**k / math.factorial(k) for k in range(3)]
    expected = {0.0: pmf[0], 1 / 3: pmf[1], 2 / 3: pmf[2], 1.0: 1 - sum(pmf)}
    values = out.flatten().double()
    assert torch.all(sum((values - v).abs() < 1e-6 for v in expected))  # only these values
    for value, probability in expected.items():
        share = float(((values - value).abs() < 1e-6).double().mean())
        assert share == pytest.approx(probability, abs=0.006)
    assert torch.equal(
        C.corrupt("shot_noise", torch.zeros(2, 1, 28, 28), 5, seeded(0)), torch.zeros(2, 1, 28, 28)
    )


def test_impulse_noise_sets_17_percent_to_0_or_1():
    out = C.corrupt("impulse_noise", torch.full((200, 1, 28, 28), 0.5), 3, seeded(0))
    assert float((out == 1).float().mean()) == pytest.approx(0.085, abs=0.004)
    assert float((out == 0).float().mean()) == pytest.approx(0.085, abs=0.004)
    assert torch.all((out == 0) | (out == 1) | (out == 0.5))


def test_canny_edges_are_per_channel_and_trace_a_square():
    square = torch.zeros(1, 1, 28, 28, dtype=torch.float64)
    square[0, 0, 8:18, 6:20] = 1
    edges = C.canny_by(square, 1.0)[0, 0]
    expected = RE.canny(square[0, 0].numpy(), 1.0)
    assert torch.equal(edges, torch.from_numpy(expected))
    rows, cols = edges.nonzero().T
    assert (
        len(rows) > 30
        and rows.min() >= 6
        and rows.max() <= 18
        and cols.min() >= 4
        and cols.max() <= 20
    )
    colour = sparse_images((2, 3, 32, 32), seed=4)
    together = C.canny_by(colour, 1.0)
    for channel in range(3):
        assert torch.equal(
            together[:, channel : channel + 1], C.canny_by(colour[:, channel : channel + 1], 1.0)
        )


@pytest.mark.parametrize("name", C.CORRUPTIONS)
def test_an_empty_batch_stays_empty(name):
    assert C.corrupt(name, torch.zeros(0, 1, 28, 28), 3, seeded(0)).shape == (0, 1, 28, 28)


@pytest.mark.parametrize("shape", [(8, 1, 28, 28), (8, 3, 32, 32)], ids=["mnist", "colour"])
@pytest.mark.parametrize("name", C.CORRUPTIONS)
def test_every_corruption_is_seeded_bounded_and_keeps_shape(name, shape):
    images = sparse_images(shape)
    before = images.clone()
    torch.manual_seed(123)
    global_state = torch.random.get_rng_state()
    first = C.corrupt(name, images, 3, seeded(0))
    assert torch.equal(torch.random.get_rng_state(), global_state)  # only the given generator
    assert torch.equal(images, before)  # nothing changed in place
    assert first.shape == images.shape and first.dtype == images.dtype
    assert float(first.min()) >= 0 and float(first.max()) <= 1
    assert not torch.equal(first, images)
    assert torch.equal(C.corrupt(name, images, 3, seeded(0)), first)
    other = C.corrupt(name, images, 3, seeded(1))
    assert torch.equal(other, first) == (name in C.DETERMINISTIC)


@pytest.mark.integration
@pytest.mark.parametrize("name", C.CORRUPTIONS)
def test_severity_makes_a_larger_change(mnist, name):
    change = [
        float((C.corrupt(name, mnist, severity, seeded(0)) - mnist).abs().mean())
        for severity in C.SEVERITIES
    ]
    assert change == sorted(change) and len(set(change)) == 5, change


def test_pixel_sizes_scale_with_the_width():
    assert C.translation_shift(3, 28) == 3 and C.translation_shift(3, 56) == 6
    assert C.glass_settings(3, 56) == (1.4, 2, 2)
    assert C.motion_settings(3, 14) == (5.0, 1.5)
    assert C.spatter_settings(3, 56)[2::2] == (2.0, 3.0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", C.CORRUPTIONS)
def test_corruptions_run_on_cuda_with_either_generator(name):
    images = sparse_images((4, 1, 28, 28)).cuda()
    on_device = torch.Generator(device="cuda").manual_seed(0)
    out = C.corrupt(name, images, 3, on_device)
    assert out.device == images.device and out.shape == images.shape
    assert torch.equal(
        out, C.corrupt(name, images, 3, torch.Generator(device="cuda").manual_seed(0))
    )
    assert C.corrupt(name, images, 3, seeded(0)).device == images.device


@pytest.mark.integration
@pytest.mark.parametrize("name", C.CORRUPTIONS)
def test_every_corruption_on_real_mnist(mnist, name):
    out = C.corrupt(name, mnist, 3, seeded(0))
    assert out.shape == (64, 1, 28, 28) and out.dtype == torch.float32
    assert float(out.min()) >= 0 and float(out.max()) <= 1
    assert float((out - mnist).abs().mean()) > 0.01


@pytest.mark.integration
@pytest.mark.parametrize("severity", C.SEVERITIES)
@pytest.mark.parametrize("name", sorted(C.DETERMINISTIC))
def test_deterministic_corruptions_equal_the_numpy_reference(mnist, name, severity):
    reference = torch.from_numpy(R.corrupt_each(name, mnist[:32].double().numpy(), severity))
    exact = C.corrupt(name, mnist[:32].double(), severity, seeded(0))
    torch.testing.assert_close(exact, reference, atol=1e-12, rtol=0)
    single = C.corrupt(name, mnist[:32], severity, seeded(0))  # float32
    torch.testing.assert_close(single, reference.float(), atol=1e-5, rtol=0)


def per_image(function, images, severity, *draws):
    """The reference function on each image of ``images`` with its share of each draw."""
    grey = images[:, 0].numpy()
    return torch.from_numpy(
        np.stack([function(grey[i], severity, *(d[i] for d in draws)) for i in range(len(grey))])
    ).unsqueeze(1)


@pytest.mark.integration
@pytest.mark.parametrize("severity", [1, 3, 5])
def test_random_corruptions_equal_the_numpy_reference_given_the_same_draws(mnist, severity):
    x = mnist[:16].double()
    g = seeded(severity)
    signs = torch.tensor([1.0, -1.0]).repeat(8).double()

    def check(ours, reference):
        torch.testing.assert_close(ours, reference, atol=1e-12, rtol=0)

    for name, by in (("rotate", C.rotate_by), ("shear", C.shear_by)):
        check(
            by(x, signs * C.parameter(name, severity)),
            per_image(getattr(R, name), x, severity, signs.numpy()),
        )
    shift = C.translation_shift(severity, 28)
    moves = np.stack([signs.numpy(), signs.roll(1).numpy()], 1).astype(int) * shift
    check(
        C.translate_by(x, torch.from_numpy(moves[:, 0]), torch.from_numpy(moves[:, 1])),
        per_image(R.translate, x, severity, moves),
    )
    salt, pepper = C.impulse_masks(x, C.parameter("impulse_noise", severity), g)
    check(
        C.salt_and_pepper(x, salt, pepper),
        per_image(R.impulse_noise, x, severity, salt[:, 0].numpy(), pepper[:, 0].numpy()),
    )
    sigma, delta, iterations = C.glass_settings(severity, 28)
    swaps = C.glass_swaps(4, 28, 28, delta, iterations, g, x)
    per_swap = [np.moveaxis(s.numpy(), -1, 0) for s in swaps]
    check(
        C.glass_blur_with(x[:4], sigma, delta, *swaps),
        per_image(R.glass_blur, x[:4], severity, list(zip(*per_swap, strict=True))),
    )
    angles = torch.linspace(-45, 45, 16, dtype=torch.float64)
    check(
        C.motion_blur_by(x, *C.motion_settings(severity, 28), angles),
        per_image(R.motion_blur, x, severity, angles.numpy()),
    )
    strength, decay = C.parameter("fog", severity)
    uniforms = C.plasma_uniforms(4, 256, g, x)
    per_fog = [[level[i].numpy() for level in uniforms] for i in range(4)]
    check(
        C.fog_with(x[:4], C.plasma_fractal(uniforms, decay, 28, 28), strength),
        per_image(R.fog, x[:4], severity, per_fog),
    )
    normal = torch.randn(16, 1, 28, 28, generator=g, dtype=torch.float64)
    check(
        C.spatter_with(x, normal, C.spatter_settings(severity, 28)),
        per_image(R.spatter, x, severity, normal[:, 0].numpy()),
    )
    r0, r1 = torch.randint(0, 27, (16,), generator=g), torch.randint(0, 27, (16,), generator=g)
    fade = C.parameter("dotted_line", severity)
    check(
        C.dotted_line_through(x, r0, r1, fade),
        per_image(RE.dotted_line, x, severity, np.stack([r0, r1], 1)),
    )
    k = torch.arange(16) % 10 - 5
    check(C.zigzag_through(x, r0, k, fade), per_image(RE.zigzag, x, severity, np.stack([r0, k], 1)))


@pytest.mark.integration
def test_random_corruptions_draw_like_the_reference(mnist):
    """What the reference draws itself (shot noise, and the spread of the others) matches."""
    np.random.seed(0)
    reference = R.corrupt_each("shot_noise", mnist.double().numpy(), 3)
    ours = C.corrupt("shot_noise", mnist, 3, seeded(0)).double().numpy()
    assert abs(reference.mean() - ours.mean()) < 0.01
    assert set(np.unique(np.round(reference * 3, 6))) == set(np.unique(np.round(ours * 3, 6)))
