// Consent forms: a signature drawn with a finger, pen or mouse on a canvas, sent as a PNG.
// Pointer events cover touch, pen and mouse alike; the PNG goes into the form's hidden
// field after every stroke, and a signature sent back with the form's errors is drawn again.
(function () {
  "use strict";

  function setUp(canvas) {
    var input = document.getElementById(canvas.dataset.signatureInput);
    if (!input) return;
    var context = canvas.getContext("2d");
    var drawing = false;
    var last = null;

    context.lineWidth = 4;
    context.lineCap = "round";
    context.lineJoin = "round";
    context.strokeStyle = "#1a1a2e";

    // The canvas keeps its own 600x200 pixels whatever size it is shown at.
    function point(event) {
      var box = canvas.getBoundingClientRect();
      return {
        x: ((event.clientX - box.left) * canvas.width) / box.width,
        y: ((event.clientY - box.top) * canvas.height) / box.height,
      };
    }

    function keep() {
      input.value = canvas.toDataURL("image/png");
    }

    canvas.addEventListener("pointerdown", function (event) {
      event.preventDefault();
      drawing = true;
      last = point(event);
      if (canvas.setPointerCapture) canvas.setPointerCapture(event.pointerId);
      // A tap is a dot.
      context.beginPath();
      context.arc(last.x, last.y, context.lineWidth / 2, 0, 2 * Math.PI);
      context.fillStyle = context.strokeStyle;
      context.fill();
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!drawing) return;
      event.preventDefault();
      var next = point(event);
      context.beginPath();
      context.moveTo(last.x, last.y);
      context.lineTo(next.x, next.y);
      context.stroke();
      last = next;
    });
    function end() {
      if (!drawing) return;
      drawing = false;
      keep();
    }
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    canvas.addEventListener("pointerleave", end);

    var clear = document.querySelector('[data-signature-clear="' + canvas.id + '"]');
    if (clear) {
      clear.addEventListener("click", function () {
        context.clearRect(0, 0, canvas.width, canvas.height);
        input.value = "";
      });
    }

    if (input.value.indexOf("data:image/png;base64,") === 0) {
      var image = new Image();
      image.onload = function () {
        context.drawImage(image, 0, 0, canvas.width, canvas.height);
      };
      image.src = input.value;
    }
  }

  document.querySelectorAll("canvas[data-signature-input]").forEach(setUp);
})();
