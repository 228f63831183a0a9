// Marking a region on the photo page: drag on the photo to fill the chosen region's fields
// (left, top, width, height in percent of the photo). Without this script the fields are typed.
(function () {
  "use strict";
  const canvas = document.getElementById("region-canvas");
  const form = document.getElementById("regions-form");
  if (!canvas || !form) return;
  const image = canvas.querySelector("img");
  const box = document.createElement("div");
  box.className = "region-box";
  box.hidden = true;
  canvas.appendChild(box);
  let start = null;

  function fraction(event) {
    const rect = image.getBoundingClientRect();
    return {
      x: Math.min(1, Math.max(0, (event.clientX - rect.left) / rect.width)),
      y: Math.min(1, Math.max(0, (event.clientY - rect.top) / rect.height)),
    };
  }

  function region(a, b) {
    return { x: Math.min(a.x, b.x), y: Math.min(a.y, b.y), w: Math.abs(a.x - b.x), h: Math.abs(a.y - b.y) };
  }

  function show(r) {
    box.hidden = false;
    box.style.left = r.x * 100 + "%";
    box.style.top = r.y * 100 + "%";
    box.style.width = r.w * 100 + "%";
    box.style.height = r.h * 100 + "%";
  }

  function fill(r) {
    const which = form.querySelector("input[name=marking]:checked").value;
    for (const key of ["x", "y", "w", "h"]) {
      form.elements[which + "_" + key].value = (r[key] * 100).toFixed(1);
    }
  }

  image.addEventListener("dragstart", (event) => event.preventDefault());
  canvas.addEventListener("pointerdown", (event) => {
    start = fraction(event);
    canvas.setPointerCapture(event.pointerId);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (start) show(region(start, fraction(event)));
  });
  canvas.addEventListener("pointerup", (event) => {
    if (!start) return;
    const r = region(start, fraction(event));
    start = null;
    if (r.w < 0.01 || r.h < 0.01) return; // a click, not a drag
    show(r);
    fill(r);
  });
})();
