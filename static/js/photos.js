// Photo capture and comparison. No inline scripts or styles (strict CSP): everything is here.
(function () {
  "use strict";

  // --- upload: one XMLHttpRequest per file, each with its own progress bar ------------------
  function setupUpload(form) {
    var list = document.getElementById("upload-list");
    var inputs = [document.getElementById("id_files"), document.getElementById("id_camera")];
    var dropped = [];
    var zone = document.getElementById("dropzone");

    zone.addEventListener("dragover", function (event) {
      event.preventDefault();
      zone.classList.add("dragging");
    });
    zone.addEventListener("dragleave", function () { zone.classList.remove("dragging"); });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("dragging");
      Array.prototype.push.apply(dropped, event.dataTransfer.files);
      zone.querySelector("p").textContent = dropped.length + " photo(s) dropped; press Upload.";
      showPreview(dropped[0]);
    });
    inputs.forEach(function (input) {
      input.addEventListener("change", function () { showPreview(input.files[0]); });
    });

    function csrfToken() {
      return form.querySelector("input[name=csrfmiddlewaretoken]").value;
    }

    function message(xhr) {
      try {
        var body = JSON.parse(xhr.responseText);
        var parts = [];
        Object.keys(body).forEach(function (key) {
          var value = body[key];
          parts.push(Array.isArray(value) ? value.join(" ") : String(value));
        });
        return parts.join(" ") || "The server refused the file.";
      } catch (e) {
        return "The server answered " + xhr.status + ".";
      }
    }

    function send(file, done) {
      var item = document.createElement("li");
      var name = document.createElement("span");
      name.className = "upload-name";
      name.textContent = file.name;
      var bar = document.createElement("progress");
      bar.max = 100;
      bar.value = 0;
      bar.setAttribute("aria-label", "Upload of " + file.name);
      var state = document.createElement("span");
      state.className = "upload-state";
      state.textContent = "Waiting…";
      item.append(name, bar, state);
      list.appendChild(item);

      var data = new FormData();
      data.append("session", form.dataset.session);
      ["body_area", "view", "view_label", "phase"].forEach(function (field) {
        data.append(field, form.elements[field].value);
      });
      form.querySelectorAll("input[name=purposes]:checked").forEach(function (box) {
        data.append("purposes", box.value);
      });
      data.append("file", file, file.name);

      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.dataset.uploadUrl);
      xhr.setRequestHeader("X-CSRFToken", csrfToken());
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) {
          bar.value = Math.round((event.loaded / event.total) * 100);
          state.textContent = bar.value + "%";
        }
      });
      xhr.addEventListener("load", function () {
        if (xhr.status === 201) {
          bar.value = 100;
          item.className = "ok";
          state.textContent = "Uploaded";
        } else {
          item.className = "bad";
          state.setAttribute("role", "alert");
          state.textContent = "Failed: " + message(xhr);
        }
        done();
      });
      xhr.addEventListener("error", function () {
        item.className = "bad";
        state.textContent = "Failed: the connection was lost.";
        done();
      });
      xhr.send(data);
    }

    function upload(files, finished) {
      var remaining = files.length;
      files.forEach(function (file) {
        send(file, function () {
          remaining -= 1;
          if (remaining === 0) {
            if (finished) { finished(); }
            // The grid refreshes and polls until the new photos' thumbnails and scores are in.
            if (window.htmx) { window.htmx.trigger(document.body, "photos-uploaded"); }
          }
        });
      });
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var files = dropped.slice();
      inputs.forEach(function (input) { Array.prototype.push.apply(files, input.files); });
      if (!files.length) {
        list.innerHTML = "";
        var item = document.createElement("li");
        item.className = "bad";
        item.textContent = "Choose at least one photo.";
        list.appendChild(item);
        return;
      }
      upload(files, function () {
        dropped = [];
        inputs.forEach(function (input) { input.value = ""; });
        zone.querySelector("p").textContent = "Drop photos here, or";
      });
    });
    return upload;
  }

  // --- live capture guide: the camera in the page, the baseline faded over it, framing marks --
  // The baseline of the chosen view (queries.framing_guides) lies over the live video, or over
  // a chosen file's preview, for before and after photos alike. The shot is a JPEG made from
  // the video frame and sent through the same upload as a chosen file.
  var guides = {};
  var previewUrl = null;
  var guideParts = null;

  function setupGuide(form, upload) {
    var data = document.getElementById("guide-data");
    if (data) {
      JSON.parse(data.textContent).forEach(function (guide) { guides[guide.view] = guide; });
    }
    var box = document.getElementById("capture-guide");
    var parts = guideParts = {
      form: form,
      box: box,
      stage: document.getElementById("guide-stage"),
      video: document.getElementById("camera-video"),
      preview: document.getElementById("guide-preview"),
      overlay: document.getElementById("guide-overlay"),
      caption: document.getElementById("guide-caption"),
      message: document.getElementById("camera-message"),
      opacity: document.getElementById("guide-opacity"),
      start: document.getElementById("camera-start"),
      shoot: document.getElementById("camera-shoot"),
      change: document.getElementById("camera-switch"),
      stop: document.getElementById("camera-stop"),
      fallback: document.getElementById("id_camera"),
      stream: null,
      facing: "environment"
    };
    box.hidden = false;

    parts.opacity.addEventListener("input", applyOpacity);
    applyOpacity();
    form.elements.view.addEventListener("change", updateGuide);
    form.elements.phase.addEventListener("change", updateGuide);
    parts.overlay.addEventListener("load", function () {
      if (parts.video.hidden && parts.preview.hidden) {
        setAspect(parts.overlay.naturalWidth, parts.overlay.naturalHeight);
      }
    });
    parts.preview.addEventListener("load", function () {
      setAspect(parts.preview.naturalWidth, parts.preview.naturalHeight);
    });
    parts.video.addEventListener("loadedmetadata", function () {
      setAspect(parts.video.videoWidth, parts.video.videoHeight);
    });
    updateGuide();

    var media = navigator.mediaDevices;
    if (!media || typeof media.getUserMedia !== "function") {
      parts.start.hidden = true;
      say("This browser cannot show the camera in the page (it needs a secure https address " +
        "and a recent browser). Use “Take a photo with the camera” below: it opens the " +
        "camera app.", true);
      return;
    }
    parts.start.addEventListener("click", startCamera);
    parts.change.addEventListener("click", function () {
      parts.facing = parts.facing === "environment" ? "user" : "environment";
      stopStream();
      startCamera();
    });
    parts.stop.addEventListener("click", closeCamera);
    parts.shoot.addEventListener("click", function () { shoot(upload); });
    window.addEventListener("pagehide", stopStream);
  }

  function say(text, bad) {
    guideParts.message.textContent = text;
    guideParts.message.classList.toggle("bad", Boolean(bad));
  }

  function applyOpacity() {
    guideParts.overlay.style.opacity = String(Number(guideParts.opacity.value) / 100);
  }

  function setAspect(width, height) {
    if (width && height) { guideParts.stage.style.aspectRatio = width + " / " + height; }
  }

  function choiceLabel(select) {
    var option = select.options[select.selectedIndex];
    return option ? option.textContent.trim() : select.value;
  }

  function updateGuide() {
    var parts = guideParts;
    var guide = guides[parts.form.elements.view.value];
    if (guide) {
      if (parts.overlay.getAttribute("src") !== guide.url) { parts.overlay.src = guide.url; }
      parts.overlay.hidden = false;
      parts.caption.textContent = guide.caption + ", faded over the picture: match its " +
        "framing, the area inside the outline and centred on the cross.";
    } else {
      parts.overlay.hidden = true;
      parts.overlay.removeAttribute("src");
      parts.caption.textContent = "No baseline photo of this view yet: this one will be it. " +
        "Frame the area inside the outline, centred on the cross.";
    }
  }

  function showPreview(file) {
    if (!file || !guideParts) { return; }
    if (previewUrl) { URL.revokeObjectURL(previewUrl); }
    closeCamera();
    previewUrl = URL.createObjectURL(file);
    guideParts.preview.src = previewUrl;
    guideParts.preview.hidden = false;
  }

  function liveControls(live) {
    var parts = guideParts;
    parts.start.hidden = live;
    parts.shoot.hidden = !live;
    parts.change.hidden = !live;
    parts.stop.hidden = !live;
    parts.video.hidden = !live;
    if (live) { parts.preview.hidden = true; }
  }

  function startCamera() {
    var parts = guideParts;
    say("Starting the camera…");
    navigator.mediaDevices.getUserMedia({
      video: { facingMode: { ideal: parts.facing }, width: { ideal: 1920 }, height: { ideal: 1440 } },
      audio: false
    }).then(function (stream) {
      parts.stream = stream;
      parts.video.srcObject = stream;
      liveControls(true);
      parts.change.textContent = parts.facing === "environment" ?
        "Switch to the front camera" : "Switch to the rear camera";
      return parts.video.play();
    }).then(function () {
      say("Camera on: line the picture up with the baseline, then press Take photo.");
    }).catch(function (error) {
      stopStream();
      liveControls(false);
      var name = error && error.name;
      if (name === "NotAllowedError" || name === "SecurityError") {
        say("The camera was refused. Allow it for this site in the browser's settings, or use " +
          "“Take a photo with the camera” below (the camera app) or choose a file.", true);
      } else if (name === "NotFoundError" || name === "OverconstrainedError") {
        say("No camera was found on this device: choose a file below.", true);
      } else {
        say("The camera could not start (" + (name || "unknown error") + "): use “Take a " +
          "photo with the camera” below or choose a file.", true);
      }
      parts.fallback.focus();
    });
  }

  function stopStream() {
    if (guideParts && guideParts.stream) {
      guideParts.stream.getTracks().forEach(function (track) { track.stop(); });
      guideParts.stream = null;
      guideParts.video.srcObject = null;
    }
  }

  function closeCamera() {
    if (!guideParts || !guideParts.stream) { return; }
    stopStream();
    liveControls(false);
    say("");
  }

  function shoot(upload) {
    var parts = guideParts;
    var video = parts.video;
    if (!video.videoWidth) {
      say("The camera has no picture yet: wait a moment and press Take photo again.", true);
      return;
    }
    var canvas = document.createElement("canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    var elements = parts.form.elements;
    var view = elements.view.value;
    var phase = elements.phase.value;
    var what = choiceLabel(elements.view) + ", " + choiceLabel(elements.phase).toLowerCase();
    canvas.toBlob(function (blob) {
      if (!blob) {
        say("The picture could not be made into a JPEG: try again, or choose a file.", true);
        return;
      }
      var stamp = new Date().toISOString().replace(/[:.]/g, "-");
      var file = new File([blob], "camera-" + view + "-" + phase + "-" + stamp + ".jpg",
        { type: "image/jpeg" });
      say("Photo taken (" + what + "): uploading. Its capture score appears in the table below.");
      upload([file]);
    }, "image/jpeg", 0.92);
  }

  // --- comparison slider: CSSOM changes are allowed under the CSP ----------------------------
  function setupSlider(range) {
    var top = document.getElementById("compare-top");
    function apply() {
      top.style.clipPath = "inset(0 " + (100 - Number(range.value)) + "% 0 0)";
    }
    range.addEventListener("input", apply);
    apply();
  }

  // --- hand alignment: the "after" moved over the "before" by a CSS transform ---------------
  // The stored transform takes the after's normalised coordinates (pixel / long side) onto the
  // before's: p -> s·R(r)·p + t. Drawn with the after at the before's displayed long side L,
  // that is translate(t·L) rotate(r) scale(s) about the top-left corner, in CSS's own order.
  var STEP = 0.005;  // of the long side
  var TURN = 0.5;  // degrees
  var GROW = 1.01;

  function setupNudge(stage) {
    var data = JSON.parse(document.getElementById("nudge-data").textContent);
    var base = document.getElementById("nudge-base");
    var moving = document.getElementById("nudge-moving");
    var form = document.getElementById("nudge-form");
    var fields = {
      scale: form.elements.scale,
      rotation: form.elements.rotation_degrees,
      tx: form.elements.tx,
      ty: form.elements.ty
    };
    var aligned = true;
    var tools = document.querySelector(".nudge-tools");
    var choice = document.querySelector(".nudge-view");
    var alignedButton = document.getElementById("nudge-aligned");
    var takenButton = document.getElementById("nudge-taken");
    var opacity = document.getElementById("nudge-opacity");
    tools.hidden = false;
    choice.hidden = false;
    moving.hidden = false;

    function value(name, fallback) {
      var number = parseFloat(fields[name].value);
      return isFinite(number) ? number : fallback;
    }

    function set(name, number, digits) { fields[name].value = number.toFixed(digits); }

    function draw() {
      var width = base.clientWidth;
      var height = base.clientHeight;
      var long = Math.max(width, height);
      if (!long) { return; }
      var after = data.after;
      moving.style.width = (after[0] >= after[1] ? long : long * after[0] / after[1]) + "px";
      moving.style.height = "auto";
      if (aligned) {
        moving.style.transform = "translate(" + value("tx", 0) * long + "px, " +
          value("ty", 0) * long + "px) rotate(" + value("rotation", 0) + "deg) scale(" +
          value("scale", 1) + ")";
      } else {
        moving.style.transform = "none";
      }
    }

    function show(isAligned) {
      aligned = isAligned;
      alignedButton.setAttribute("aria-pressed", String(aligned));
      takenButton.setAttribute("aria-pressed", String(!aligned));
      draw();
    }

    function nudge(kind) {
      if (kind === "worker") {
        if (!data.worker) { return; }
        set("scale", data.worker.scale, 4);
        set("rotation", data.worker.rotation_degrees, 2);
        set("tx", data.worker.tx, 4);
        set("ty", data.worker.ty, 4);
      } else if (kind === "left" || kind === "right") {
        set("tx", value("tx", 0) + (kind === "left" ? -STEP : STEP), 4);
      } else if (kind === "up" || kind === "down") {
        set("ty", value("ty", 0) + (kind === "up" ? -STEP : STEP), 4);
      } else if (kind === "turn-left" || kind === "turn-right") {
        set("rotation", value("rotation", 0) + (kind === "turn-left" ? -TURN : TURN), 2);
      } else if (kind === "smaller" || kind === "larger") {
        set("scale", value("scale", 1) * (kind === "smaller" ? 1 / GROW : GROW), 4);
      }
      show(true);
    }

    document.querySelectorAll("[data-nudge]").forEach(function (button) {
      button.addEventListener("click", function () { nudge(button.dataset.nudge); });
    });
    Object.keys(fields).forEach(function (name) {
      fields[name].addEventListener("input", function () { show(true); });
    });
    alignedButton.addEventListener("click", function () { show(true); });
    takenButton.addEventListener("click", function () { show(false); });
    opacity.addEventListener("input", function () {
      moving.style.opacity = String(Number(opacity.value) / 100);
    });
    stage.addEventListener("keydown", function (event) {
      var keys = { ArrowLeft: "left", ArrowRight: "right", ArrowUp: "up", ArrowDown: "down" };
      if (keys[event.key]) {
        event.preventDefault();
        nudge(keys[event.key]);
      }
    });
    var drag = null;
    stage.addEventListener("pointerdown", function (event) {
      drag = { x: event.clientX, y: event.clientY, tx: value("tx", 0), ty: value("ty", 0) };
      stage.setPointerCapture(event.pointerId);
    });
    stage.addEventListener("pointermove", function (event) {
      if (!drag) { return; }
      var long = Math.max(base.clientWidth, base.clientHeight) || 1;
      set("tx", drag.tx + (event.clientX - drag.x) / long, 4);
      set("ty", drag.ty + (event.clientY - drag.y) / long, 4);
      show(true);
    });
    ["pointerup", "pointercancel"].forEach(function (name) {
      stage.addEventListener(name, function () { drag = null; });
    });
    base.addEventListener("load", draw);
    moving.addEventListener("load", draw);
    window.addEventListener("resize", draw);
    draw();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("photo-upload");
    if (form) {
      setupGuide(form, setupUpload(form));
    }
    var range = document.getElementById("compare-range");
    if (range) { setupSlider(range); }
    var stage = document.getElementById("nudge-stage");
    if (stage) { setupNudge(stage); }
  });
})();
