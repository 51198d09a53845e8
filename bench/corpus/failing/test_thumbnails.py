import cv2


def test_thumbnail_size():
    image = cv2.imread("tests/data/cat.png")
    assert image.shape == (64, 64, 3)
